"""De-identification on ingest, through a real worker process, Kafka and MinIO: a CR whose header carries
every attribute of the PS3.15 Basic Profile (plus a private tag and an overlay comment), and the same
patient's second radiograph, are ingested; then every object in the archive, every message on every
topic, the worker's log and its metrics are searched for each planted value."""

from __future__ import annotations

import io
import urllib.request

import pydicom
import pytest
from kafka import KafkaConsumer
from samx_core.events import RadiographIngested, RadiographRejected
from samx_core.radiograph import RejectReason
from samx_ingest.deidentify import EMPTIED, REMOVED

from tests.support.identifying_dicom import identifying_dicom
from tests.support.stream import Stream, collect_outcomes, unreleased_claim_checks

pytestmark = pytest.mark.integration


def _searchable(planted: dict[str, str]) -> set[str]:
    """Values that cannot occur by chance elsewhere (dates and short numbers can): those with letters."""
    return {v for v in planted.values() if sum(c.isalpha() for c in v) >= 4}


def _all_messages(kafka_settings, namespace: str) -> list[bytes]:
    consumer = KafkaConsumer(
        **kafka_settings.client_kwargs(), auto_offset_reset="earliest", consumer_timeout_ms=3000, group_id=None
    )
    try:
        topics = sorted(t for t in consumer.topics() if t.startswith(f"{namespace}."))
        consumer.subscribe(topics)
        return [(m.value or b"") + b" " + b" ".join(v for _, v in (m.headers or [])) for m in consumer]
    finally:
        consumer.close()


def _burned_in(data: bytes) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.BurnedInAnnotation = "YES"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_nothing_identifying_leaves_ingest(kafka_settings, s3_settings, ingest_workers, namespace):
    [(worker, port)] = ingest_workers(1)
    first = identifying_dicom(list(REMOVED + EMPTIED), seed="first")
    second = identifying_dicom([], seed="second")  # the same patient, another radiograph
    stream = Stream(kafka_settings, s3_settings)
    try:
        sent = stream.send_all([first.data, second.data, _burned_in(identifying_dicom([], seed="burned").data)])
    finally:
        stream.close()
    outcomes = collect_outcomes(kafka_settings, sent, timeout_s=120)
    a, b, c = (outcomes.distinct(e.event_id)[0] for e in sent)
    assert isinstance(a, RadiographIngested) and isinstance(b, RadiographIngested), (a, b)
    assert isinstance(c, RadiographRejected) and c.reason is RejectReason.BURNED_IN_ANNOTATION
    assert a.tags.patient_id == b.tags.patient_id != first.patient_id  # grouping survives, the MRN does not

    planted = _searchable(first.planted) | _searchable(second.planted)
    assert len(planted) > 80

    def leaks(blob: bytes) -> set[str]:
        return {v for v in planted if v.encode() in blob or v.upper().encode() in blob}

    store = stream.store
    # Claim checks are released once their outcome is durable: the files as sent are gone.
    assert unreleased_claim_checks(store, s3_settings.incoming_bucket) == []
    archive_keys = store.list_keys(s3_settings.archive_bucket, "")
    kept = [k for k in archive_keys if not k.startswith("quarantine/")]
    assert any(k.startswith("raw/") for k in kept)
    for key in kept:
        assert leaks(store.get_bytes(s3_settings.archive_bucket, key)) == set(), key
    # The rejected original stays in quarantine, as sent, for a bounded time only.
    assert leaks(store.get_bytes(c.quarantine.bucket, c.quarantine.key))
    rules = {
        r.rule_filter.prefix: r.expiration.days
        for r in store.client.get_bucket_lifecycle(s3_settings.archive_bucket).rules
    }
    assert rules["quarantine/"] == 30
    incoming_rules = store.client.get_bucket_lifecycle(s3_settings.incoming_bucket).rules
    assert [r.expiration.days for r in incoming_rules] == [7]

    messages = _all_messages(kafka_settings, namespace)
    assert len(messages) >= 6  # three received, three outcomes
    assert [leaks(m) for m in messages if leaks(m)] == []
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        assert leaks(response.read()) == set()
    assert leaks(worker.log_file.read_bytes()) == set()
