"""The ingest domain's decisions, without network: an in-memory archive and event sink stand in for
MinIO and Kafka (the integration tests run the same pipeline against the real ones)."""

from __future__ import annotations

import hashlib
import io
import uuid

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from samx_core.events import (
    ObjectRef,
    RadiographDuplicate,
    RadiographIngested,
    RadiographReceived,
    RadiographRejected,
)
from samx_core.radiograph import RejectReason
from samx_ingest.pipeline import IngestPipeline, Outcome
from samx_ingest.settings import IdentifiablePolicy, IngestPolicy


class MemoryArchive:
    def __init__(self) -> None:
        self.objects: dict[str, bytes | dict] = {}
        self.incoming: dict[str, bytes] = {}

    def fetch_incoming(self, ref):
        return self.incoming.get(ref.key)

    def find_by_content(self, sha256):
        pointer = self.objects.get(f"index/sha256/{sha256}")
        return self.objects.get(f"meta/{pointer}") if pointer else None

    def find_by_sop_instance(self, uid):
        pointer = self.objects.get(f"index/sop/{uid}")
        return self.objects.get(f"meta/{pointer}") if pointer else None

    def store_radiograph(
        self, image_id, *, original, original_ext, original_type, derivative_png, thumbnail_png, sha256
    ):
        refs = {}
        for name, key, data in (
            ("raw", f"raw/{image_id}.{original_ext}", original),
            ("derivative", f"derived/{image_id}.png", derivative_png),
            ("thumbnail", f"derived/{image_id}.thumb.png", thumbnail_png),
        ):
            self.objects[key] = data
            refs[name] = ObjectRef(bucket="archive", key=key, size_bytes=len(data))
        return refs

    def record_ref(self, image_id):
        return ObjectRef(bucket="archive", key=f"meta/{image_id}.json")

    def store_record(self, image_id, record, *, sha256, sop_instance_uid):
        self.objects[f"meta/{image_id}"] = record
        self.objects[f"index/sha256/{sha256}"] = image_id
        if sop_instance_uid:
            self.objects[f"index/sop/{sop_instance_uid}"] = image_id

    def quarantine(self, received_event_id, data, reason):
        self.objects[f"quarantine/{received_event_id}"] = data
        return ObjectRef(bucket="archive", key=f"quarantine/{received_event_id}.bin")


class MemorySink:
    def __init__(self) -> None:
        self.events = []

    def publish(self, event, *, key=None):
        self.events.append(event)


def _png(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 48), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _received(data: bytes, **overrides) -> RadiographReceived:
    return RadiographReceived(
        site_id="site", sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), inline_data=data, **overrides
    )


@pytest.fixture
def setup():
    archive, sink = MemoryArchive(), MemorySink()
    return IngestPipeline(archive, sink, IngestPolicy()), archive, sink


def test_new_radiograph_is_stored_and_announced(setup):
    pipeline, archive, sink = setup
    assert pipeline.handle(_received(_png())).outcome is Outcome.INGESTED
    [event] = sink.events
    assert isinstance(event, RadiographIngested)
    assert event.source_format == "png" and event.tags.rows == 64 and event.tags.columns == 48
    assert archive.objects[f"meta/{event.image_id}"] == event.model_dump(mode="json")


def test_replay_of_the_same_event_republishes_the_same_outcome(setup):
    pipeline, archive, sink = setup
    received = _received(_png())
    pipeline.handle(received)
    stored = dict(archive.objects)
    assert pipeline.handle(received).outcome is Outcome.REPLAYED
    assert sink.events[0] == sink.events[1], "same event id and content: consumers dedupe it"
    assert archive.objects == stored, "a replay writes nothing"


def test_same_content_from_another_event_is_a_duplicate(setup):
    pipeline, _, sink = setup
    data = _png()
    pipeline.handle(_received(data))
    assert pipeline.handle(_received(data)).outcome is Outcome.DUPLICATE
    duplicate = sink.events[1]
    assert isinstance(duplicate, RadiographDuplicate) and duplicate.matched_on == "content"
    assert duplicate.image_id == sink.events[0].image_id


def test_same_sop_instance_in_another_encoding_is_a_duplicate(setup):
    pipeline, _, sink = setup
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Modality, ds.PatientName, ds.PatientIdentityRemoved = "CR", "", "YES"
    first, second = io.BytesIO(), io.BytesIO()
    ds.save_as(first, enforce_file_format=True)
    ds.InstitutionName = "re-sent with a different header"
    ds.save_as(second, enforce_file_format=True)
    assert pipeline.handle(_received(first.getvalue())).outcome is Outcome.INGESTED
    assert pipeline.handle(_received(second.getvalue())).outcome is Outcome.DUPLICATE
    assert sink.events[1].matched_on == "sop_instance_uid"


@pytest.mark.parametrize(
    ("mutate", "policy", "reason"),
    [
        (lambda ds: None, IngestPolicy(), RejectReason.MODALITY_NOT_ALLOWED),
        (lambda ds: setattr(ds, "Modality", "DX"), IngestPolicy(), RejectReason.IDENTIFYING_DATA),
    ],
)
def test_policy_rejections_keep_the_original(setup, mutate, policy, reason):
    _, archive, sink = setup
    pipeline = IngestPipeline(archive, sink, policy)
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))  # a CT with a patient name
    mutate(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    received = _received(buffer.getvalue())
    result = pipeline.handle(received)
    assert result.outcome is Outcome.REJECTED and result.reason is reason
    assert isinstance(sink.events[0], RadiographRejected)
    assert archive.objects[f"quarantine/{received.event_id}"] == buffer.getvalue()
    assert "CompressedSamples" not in sink.events[0].detail and str(ds.PatientName) not in sink.events[0].detail


def test_identifiable_inputs_pass_when_the_policy_allows_them(setup):
    _, archive, sink = setup
    pipeline = IngestPipeline(
        archive, sink, IngestPolicy(identifiable=IdentifiablePolicy.ALLOW, allowed_modalities=frozenset({"CT"}))
    )
    buffer = io.BytesIO()
    pydicom.dcmread(get_testdata_file("CT_small.dcm")).save_as(buffer, enforce_file_format=True)
    assert pipeline.handle(_received(buffer.getvalue())).outcome is Outcome.INGESTED


def test_checksum_mismatch_and_missing_claim_check(setup):
    pipeline, _, sink = setup
    data = _png()
    bad_sum = RadiographReceived(site_id="s", sha256="0" * 64, size_bytes=len(data), inline_data=data)
    assert pipeline.handle(bad_sum).reason is RejectReason.CHECKSUM_MISMATCH
    missing = RadiographReceived(
        site_id="s",
        sha256="0" * 64,
        size_bytes=1,
        object=ObjectRef(bucket="incoming", key="gone"),
        event_id=uuid.uuid4(),
    )
    assert pipeline.handle(missing).reason is RejectReason.OBJECT_MISSING
    assert sink.events[-1].quarantine is None
