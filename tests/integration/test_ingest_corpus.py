"""Real radiographs and a corpus of bad inputs through real Kafka, MinIO and ingest worker processes:
every good radiograph is ingested exactly once, every re-send is reported as a duplicate, and every bad
input is rejected with the right reason and kept in quarantine."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from samx_core.archive import CONTENT_INDEX_PREFIX, RADIOGRAPH_RECORD_PREFIX, sha256_of_content_index_key
from samx_core.events import RadiographDuplicate, RadiographIngested, RadiographRejected
from samx_core.radiograph import RejectReason

from tests.support.bad_inputs import bad_radiograph_corpus
from tests.support.datasets import load_unifesp_dicom_tags, unifesp_dir
from tests.support.dicom_from_png import SUPPORTED_TRANSFER_SYNTAXES, build_dicom_from_png
from tests.support.pydicom_data import pseudonymized_real_crs
from tests.support.stream import Stream, collect_outcomes, unreleased_claim_checks

pytestmark = pytest.mark.integration

PNG_COUNT = 190
DICOM_COUNT = 106


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    dataset = unifesp_dir()
    tags = load_unifesp_dicom_tags()
    pngs = list(
        {
            hashlib.sha256(p.read_bytes()).digest(): p  # distinct contents: the archive has a few copies
            for p in sorted((dataset / "images").glob("*.png"))
        }.values()
    )
    as_png = pngs[:PNG_COUNT]
    as_dicom = pngs[PNG_COUNT : PNG_COUNT + DICOM_COUNT]
    syntaxes = list(SUPPORTED_TRANSFER_SYNTAXES)
    dicoms = [
        build_dicom_from_png(
            path, tags[f"images/{path.name}"], transfer_syntax=syntaxes[i % len(syntaxes)], monochrome1=(i % 3 == 0)
        )
        for i, path in enumerate(as_dicom)
    ]
    crs = pseudonymized_real_crs()  # name -> bytes; two images, each in two encodings of one instance
    return {
        "png": [p.read_bytes() for p in as_png],
        "dicom": dicoms,
        "dicom_patients": [tags[f"images/{p.name}"]["PatientID"] for p in as_dicom],
        "cr": crs,
        "bad": bad_radiograph_corpus(tmp_path_factory.mktemp("bad")),
    }


def test_every_input_gets_exactly_its_outcome(corpus, kafka_settings, s3_settings, ingest_workers):
    ingest_workers(2)
    stream = Stream(kafka_settings, s3_settings)
    try:
        good = corpus["png"] + corpus["dicom"]
        sent_good = stream.send_all(good)
        sent_cr = stream.send_all(list(corpus["cr"].values()))
        # a hospital re-sending files it already sent
        resent = stream.send_all(corpus["png"][:10] + corpus["dicom"][:3])
        sent_bad = stream.send_all([data for _, data, _ in corpus["bad"]])
    finally:
        stream.close()
    assert len(good) + len(corpus["cr"]) == 300
    everything = sent_good + sent_cr + resent + sent_bad
    outcomes = collect_outcomes(kafka_settings, everything, timeout_s=300, settle_s=2)

    assert outcomes.dead_letters == []
    for event in everything:
        assert len(outcomes.distinct(event.event_id)) == 1, "each input has exactly one outcome"

    ingested = [outcomes.distinct(e.event_id)[0] for e in sent_good]
    assert all(isinstance(o, RadiographIngested) for o in ingested)
    assert len({o.image_id for o in ingested}) == len(good)

    # Real DICOM metadata travels into the event (modality, spacing), identifiers as keyed pseudonyms:
    # each patient keeps exactly one, so the patient-wise split still groups their radiographs.
    dicom_events = ingested[PNG_COUNT:]
    pairs = set(zip(corpus["dicom_patients"], (o.tags.patient_id for o in dicom_events), strict=True))
    assert len(pairs) == len(set(corpus["dicom_patients"])) == len({p for _, p in pairs})
    assert not any(original == pseudonym for original, pseudonym in pairs)
    assert all(o.source_format == "dicom" and o.tags.modality in {"CR", "DX"} for o in dicom_events)

    cr_outcomes = Counter(type(outcomes.distinct(e.event_id)[0]).__name__ for e in sent_cr)
    assert cr_outcomes == {"RadiographIngested": 2, "RadiographDuplicate": 2}
    cr_duplicates = [
        outcomes.distinct(e.event_id)[0]
        for e in sent_cr
        if isinstance(outcomes.distinct(e.event_id)[0], RadiographDuplicate)
    ]
    assert {d.matched_on for d in cr_duplicates} == {"sop_instance_uid"}

    for original, again in zip(sent_good[:10] + sent_good[PNG_COUNT : PNG_COUNT + 3], resent, strict=True):
        duplicate = outcomes.distinct(again.event_id)[0]
        assert isinstance(duplicate, RadiographDuplicate)
        assert duplicate.matched_on == "content"
        assert duplicate.image_id == outcomes.distinct(original.event_id)[0].image_id

    for (name, data, expected_reason), event in zip(corpus["bad"], sent_bad, strict=True):
        rejected = outcomes.distinct(event.event_id)[0]
        assert isinstance(rejected, RadiographRejected), name
        assert rejected.reason == expected_reason, name
        assert rejected.quarantine is not None
        assert stream.store.get_bytes(rejected.quarantine.bucket, rejected.quarantine.key) == data, name

    # Every claim check is released once its outcome is durable.
    assert unreleased_claim_checks(stream.store, s3_settings.incoming_bucket) == []
    # The archive holds one record per radiograph, with original, derivative and thumbnail.
    meta_keys = stream.store.list_keys(s3_settings.archive_bucket, RADIOGRAPH_RECORD_PREFIX)
    assert len(meta_keys) == len(good) + 2
    # A content index for DICOMs only: a PNG's record is found by the id its content gives.
    indexed = {
        sha256_of_content_index_key(key)
        for key in stream.store.list_keys(s3_settings.archive_bucket, CONTENT_INDEX_PREFIX)
    }
    assert len(indexed) == DICOM_COUNT + 2
    assert {hashlib.sha256(d).hexdigest() for d in corpus["dicom"]} <= indexed
    assert indexed.isdisjoint(hashlib.sha256(d).hexdigest() for d in corpus["png"])
    record = json.loads(stream.store.get_bytes(s3_settings.archive_bucket, meta_keys[0]))
    for ref in ("raw", "derivative", "thumbnail"):
        assert stream.store.exists(record[ref]["bucket"], record[ref]["key"])


def test_reason_codes_cover_the_bad_corpus(corpus):
    """The bad corpus exercises the reasons a hospital will actually meet (guards the test above)."""
    reasons = {reason for _, _, reason in corpus["bad"]}
    assert {
        RejectReason.EMPTY,
        RejectReason.NOT_AN_IMAGE,
        RejectReason.TRUNCATED,
        RejectReason.NO_PIXEL_DATA,
        RejectReason.MULTI_FRAME,
        RejectReason.UNSUPPORTED_TRANSFER_SYNTAX,
        RejectReason.MODALITY_NOT_ALLOWED,
        RejectReason.BURNED_IN_ANNOTATION,
    } <= reasons
