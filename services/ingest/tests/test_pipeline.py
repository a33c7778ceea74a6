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
from samx_ingest.settings import BurnedInPolicy, DeidentificationSecretMissing, IdentifiablePolicy, IngestPolicy

from tests.support.identifying_dicom import identifying_dicom

PSEUDONYM_KEY = "a test key that is long enough"


class MemoryArchive:
    def __init__(self) -> None:
        self.objects: dict[str, bytes | dict] = {}
        self.incoming: dict[str, bytes] = {}

    def fetch_incoming(self, ref):
        return self.incoming.get(ref.key)

    def find_record(self, image_id):
        return self.objects.get(f"meta/{image_id}")

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

    def store_record(self, image_id, record, *, sha256, sop_instance_uid, index_content):
        self.objects[f"meta/{image_id}"] = record
        if index_content:
            self.objects[f"index/sha256/{sha256}"] = image_id
        if sop_instance_uid:
            self.objects[f"index/sop/{sop_instance_uid}"] = image_id

    def quarantine(self, record, data):
        self.objects[f"quarantine/{record.received_event_id}"] = data
        self.objects[f"quarantine/{record.received_event_id}.json"] = record
        return ObjectRef(bucket="archive", key=f"quarantine/{record.received_event_id}.bin")

    def store_outcome(self, received_event_id, event):
        self.objects[f"outcomes/{received_event_id}"] = event

    def find_outcome(self, received_event_id):
        return self.objects.get(f"outcomes/{received_event_id}")

    def release_incoming(self, refs):
        for ref in refs:
            self.incoming.pop(ref.key, None)


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
    return IngestPipeline(archive, sink, IngestPolicy(deid_secret=PSEUDONYM_KEY)), archive, sink


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


def _allowed_dataset() -> pydicom.Dataset:
    """pydicom's CT_small as a de-identified CR: one the default policy ingests."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Modality, ds.PatientName, ds.PatientIdentityRemoved = "CR", "", "YES"
    return ds


def _dicom() -> bytes:
    buffer = io.BytesIO()
    _allowed_dataset().save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize(("make", "indexed"), [(_png, False), (_dicom, True)], ids=["png", "dicom"])
def test_same_content_from_another_event_is_a_duplicate(setup, make, indexed):
    pipeline, archive, sink = setup
    data = make()
    pipeline.handle(_received(data))
    assert pipeline.handle(_received(data)).outcome is Outcome.DUPLICATE
    duplicate = sink.events[1]
    assert isinstance(duplicate, RadiographDuplicate) and duplicate.matched_on == "content"
    assert duplicate.image_id == sink.events[0].image_id
    # A PNG's id is its content's, so it is found without an index; a DICOM's is its SOP UID's.
    assert (f"index/sha256/{hashlib.sha256(data).hexdigest()}" in archive.objects) is indexed


def test_same_sop_instance_in_another_encoding_is_a_duplicate(setup):
    pipeline, _, sink = setup
    ds = _allowed_dataset()
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
        (lambda ds: None, IngestPolicy(deid_secret=PSEUDONYM_KEY), RejectReason.MODALITY_NOT_ALLOWED),
        (
            lambda ds: setattr(ds, "Modality", "DX"),
            IngestPolicy(identifiable=IdentifiablePolicy.REJECT),
            RejectReason.IDENTIFYING_DATA,
        ),
        (
            lambda ds: (
                setattr(ds, "Modality", "DX"),
                setattr(ds, "PatientName", ""),
                setattr(ds, "BurnedInAnnotation", "YES"),
            ),
            IngestPolicy(deid_secret=PSEUDONYM_KEY),
            RejectReason.BURNED_IN_ANNOTATION,
        ),
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
    assert "CompressedSamples" not in sink.events[0].detail
    assert not str(ds.PatientName) or str(ds.PatientName) not in sink.events[0].detail
    # The quarantine record says which input it was, by reference, and nothing the header says.
    record = archive.objects[f"quarantine/{received.event_id}.json"]
    assert (record.received_event_id, record.sha256, record.size_bytes, record.reason) == (
        received.event_id,
        received.sha256,
        len(buffer.getvalue()),
        reason,
    )
    assert record.site_id == received.site_id and record.received_at == received.occurred_at
    planted = [str(ds.get(keyword, "")) for keyword in ("PatientName", "PatientID", "PatientBirthDate")]
    assert all(value not in record.model_dump_json() for value in planted if value)


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


def _claim_checked(archive: MemoryArchive, data: bytes) -> RadiographReceived:
    key = f"in/{uuid.uuid4()}"
    archive.incoming[key] = data
    return RadiographReceived(
        site_id="site",
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        object=ObjectRef(bucket="incoming", key=key),
    )


def test_identifying_dicoms_are_stored_de_identified_and_the_claim_check_released(setup):
    pipeline, archive, sink = setup
    source = identifying_dicom([])
    received = _claim_checked(archive, source.data)
    assert pipeline.handle(received).outcome is Outcome.INGESTED
    [event] = sink.events
    stored = archive.objects[event.raw.key]
    assert source.patient_id.encode() not in stored and source.planted["PatientName"].encode() not in stored
    assert event.tags.patient_id not in (None, source.patient_id) and event.tags.patient_identity_removed
    assert event.sha256 == received.sha256 != event.raw.sha256  # the sender's hash, the stored file's own
    assert archive.incoming != {}, "released with its batch, not one request per file"
    pipeline.release_claim_checks()
    assert archive.incoming == {}
    # a replay after the release re-publishes the record; the same file sent again is a duplicate
    assert pipeline.handle(received).outcome is Outcome.REPLAYED and sink.events[1] == event
    assert pipeline.handle(_claim_checked(archive, source.data)).outcome is Outcome.DUPLICATE


def test_a_replayed_rejection_after_the_release_is_the_same_rejection(setup):
    pipeline, archive, sink = setup
    archive.incoming["in/2"] = b"not an image at all"
    data = archive.incoming["in/2"]
    received = RadiographReceived(
        site_id="site",
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        object=ObjectRef(bucket="incoming", key="in/2"),
    )
    assert pipeline.handle(received).reason is RejectReason.NOT_AN_IMAGE
    pipeline.release_claim_checks()
    assert pipeline.handle(received).outcome is Outcome.REPLAYED
    assert sink.events[0] == sink.events[1] and sink.events[1].reason is RejectReason.NOT_AN_IMAGE


def test_burned_in_text_can_be_flagged_instead_and_de_identifying_needs_a_secret(setup):
    _, archive, sink = setup
    with pytest.raises(DeidentificationSecretMissing, match="SAMX_INGEST_DEID_SECRET"):
        IngestPipeline(archive, sink, IngestPolicy())
    ds = pydicom.dcmread(io.BytesIO(identifying_dicom([]).data))
    ds.BurnedInAnnotation = "YES"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    pipeline = IngestPipeline(
        archive, sink, IngestPolicy(deid_secret=PSEUDONYM_KEY, burned_in_annotation=BurnedInPolicy.FLAG)
    )
    assert pipeline.handle(_claim_checked(archive, buffer.getvalue())).outcome is Outcome.INGESTED
    tags = sink.events[0].tags
    assert tags.burned_in_annotation is True and tags.patient_identity_removed is False


def test_claim_checks_a_failed_release_kept_are_released_by_the_next(setup):
    pipeline, archive, _ = setup
    first, second = (_claim_checked(archive, _png(seed)) for seed in (1, 2))
    pipeline.handle(first)
    release, archive.release_incoming = archive.release_incoming, _unreachable
    with pytest.raises(ConnectionError):
        pipeline.release_claim_checks()
    archive.release_incoming = release
    pipeline.handle(second)
    pipeline.release_claim_checks()
    assert archive.incoming == {}


def _unreachable(refs):
    raise ConnectionError("object store unreachable")
