"""One trace from ``samx send`` through the ingest worker to the ``radiograph.ingested`` event, with no
patient data in any span; the worker's health, readiness and metrics endpoints; malformed messages
ending in the dead-letter topic without stopping the worker; and readiness with MinIO stopped by PID and
started again (503 naming it, ready again once it is back, and a radiograph received during the outage
ingested once afterwards) and with Kafka unreachable."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import types
import urllib.request
from collections.abc import Iterator

import pytest
from kafka import KafkaProducer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from samx_core.bus.reader import EventReader
from samx_core.events import DeadLetter, RadiographIngested, RadiographReceived
from samx_core.settings import KafkaSettings
from samx_ingest.observability import readiness
from samx_ingest.settings import IngestPolicy, IngestSettings
from samx_ingest.worker import IngestWorker

from tests.support.datasets import load_unifesp_dicom_tags, unifesp_dir
from tests.support.dicom_from_png import build_dicom_from_png
from tests.support.stream import Stream, collect_outcomes
from tests.support.tracing import in_memory_spans

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    return in_memory_spans()  # the session's one provider: test_serving's trace test attaches its own too


@pytest.fixture
def worker_in_process(kafka_settings, s3_settings, namespace, span_exporter, test_env) -> Iterator[IngestWorker]:
    """A worker in this process, so that its spans reach the in-memory exporter."""
    worker = IngestWorker(
        IngestSettings(
            kafka=kafka_settings,
            s3=s3_settings,
            health_port=0,
            consumer_group=f"{namespace}-ingest",
            policy=IngestPolicy(deid_secret=test_env["SAMX_INGEST_DEID_SECRET"]),
        )
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield worker
    worker.stop_event.set()
    thread.join(timeout=30)


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_one_trace_from_send_to_ingested_event(worker_in_process, kafka_settings, s3_settings, span_exporter):
    span_exporter.clear()
    tags = load_unifesp_dicom_tags()
    png = sorted((unifesp_dir() / "images").glob("*.png"))[0]
    row = tags[f"images/{png.name}"]
    dicom = build_dicom_from_png(png, row)
    stream = Stream(kafka_settings, s3_settings)
    try:
        sent = stream.send_all([dicom])
    finally:
        stream.close()
    outcomes = collect_outcomes(kafka_settings, sent, timeout_s=60)
    assert isinstance(outcomes.distinct(sent[0].event_id)[0], RadiographIngested)
    worker_in_process.publisher.flush()

    received_topic = kafka_settings.topic(RadiographReceived.TOPIC)
    ingested_topic = kafka_settings.topic(RadiographIngested.TOPIC)
    expected = {
        "radiograph send",
        f"{received_topic} publish",
        f"{received_topic} process",
        "decode",
        "deidentify",
        "store",
        f"{ingested_topic} publish",
    }
    # The worker's "process" span ends after its handler has published the outcome (and committed), so
    # the outcome can be read before that span is finished: wait for it (bounded) instead of racing it.
    deadline = time.monotonic() + 15
    while True:
        spans = span_exporter.get_finished_spans()
        send_span = next(s for s in spans if s.name == "radiograph send")
        trace_spans = [s for s in spans if s.context.trace_id == send_span.context.trace_id]
        names = {s.name for s in trace_spans}
        if expected <= names or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert expected <= names, expected - names
    process_span = next(s for s in trace_spans if s.name == f"{received_topic} process")
    assert process_span.attributes["messaging.system"] == "kafka"

    # No patient data in any span: no patient id, UID or name from the header. Matched as whole values:
    # this patient id is "869", which a substring test also finds inside event ids, offsets and the
    # session's random topic prefix (a failure seen once in a fresh-clone run, with no leak behind it).
    identifying = {row["PatientID"], row["SOPInstanceUID"], row["StudyInstanceUID"], row["SeriesInstanceUID"]}
    for span in trace_spans:
        text = json.dumps({k: str(v) for k, v in (span.attributes or {}).items()}) + " " + span.name
        leaked = [v for v in identifying if v and re.search(rf"(?<![0-9A-Za-z.]){re.escape(v)}(?![0-9A-Za-z.])", text)]
        assert not leaked, (span.name, leaked, text)


def _wait_ready(port: int, timeout_s: float = 30.0) -> dict:
    """The worker's thread marks itself ready a moment after its health server answers: poll, as a
    Kubernetes readiness probe would, and check every answer on the way is a well-formed one."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = _get(port, "/readyz")
        answer = json.loads(body)
        assert set(answer["dependencies"]) == {"consumer", "kafka", "object_store"}, answer
        assert (status == 200) == (answer["status"] == "ready") == (set(answer["dependencies"].values()) == {"ok"})
        if status == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def test_health_readiness_and_metrics(worker_in_process, kafka_settings, s3_settings):
    port = worker_in_process.health.port
    assert _get(port, "/healthz")[0] == 200
    assert _wait_ready(port) == {
        "status": "ready",
        "dependencies": {"consumer": "ok", "kafka": "ok", "object_store": "ok"},
    }
    stream = Stream(kafka_settings, s3_settings)
    try:
        sent = stream.send_all([b"definitely not a radiograph"])
    finally:
        stream.close()
    collect_outcomes(kafka_settings, sent, timeout_s=60)
    status, body = _get(port, "/metrics")
    assert status == 200
    assert 'samx_ingest_rejected_total{reason="not_an_image"} 1.0' in body.decode()
    assert _get(port, "/nope")[0] == 404


def test_malformed_messages_are_dead_lettered_and_the_worker_goes_on(worker_in_process, kafka_settings, s3_settings):
    producer = KafkaProducer(**kafka_settings.client_kwargs(), acks="all")
    topic = kafka_settings.topic(RadiographReceived.TOPIC)
    producer.send(topic, b"{not json")
    producer.send(topic, json.dumps({"site_id": "x", "sha256": "nope"}).encode())
    producer.flush()
    producer.close()
    stream = Stream(kafka_settings, s3_settings)
    try:
        sent = stream.send_all([(sorted((unifesp_dir() / "images").glob("*.png"))[1]).read_bytes()])
    finally:
        stream.close()
    outcomes = collect_outcomes(kafka_settings, sent, timeout_s=60)
    assert isinstance(outcomes.distinct(sent[0].event_id)[0], RadiographIngested)
    dead = []
    with EventReader(kafka_settings, [DeadLetter.TOPIC], from_beginning=True) as reader:
        for event in reader.events(timeout_s=60):
            dead.append(event)
            if len(dead) == 2:
                break
    assert len(dead) == 2
    assert all(isinstance(d, DeadLetter) and d.reason == "invalid_event" for d in dead)
    assert {d.value for d in dead} == {b"{not json", json.dumps({"site_id": "x", "sha256": "nope"}).encode()}


def _readiness_until(port: int, wanted_status: int, timeout_s: float = 60.0) -> dict:
    """Polls /readyz (as a probe would) until it answers ``wanted_status``; every answer is JSON."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = _get(port, "/readyz")
        answer = json.loads(body)
        if status == wanted_status:
            return answer
        assert time.monotonic() < deadline, f"/readyz still {status} after {timeout_s:.0f} s: {answer}"
        time.sleep(0.1)


def _stack_runs(local_stack, component: str) -> None:
    # the session's stack always starts its own Kafka and MinIO (conftest.local_stack), so the test can
    # stop and restart them by PID; one that is not running is a failure, not a reason to skip
    assert local_stack.process(component).running(), f"the test stack's {component} is not running"


@pytest.mark.fault
def test_minio_stopped_readiness_names_it_and_the_radiograph_waits_for_it(
    worker_in_process, kafka_settings, s3_settings, local_stack
):
    """A small radiograph travels inline in its event, so it is received with MinIO down; the worker
    cannot store it and retries (never dead-letters) until MinIO is back, then ingests it once."""
    _stack_runs(local_stack, "minio")
    port = worker_in_process.health.port
    assert _wait_ready(port)["status"] == "ready"
    stream = Stream(kafka_settings, s3_settings)  # buckets made while MinIO runs
    # The smallest file: under the sender's inline limit (64 KiB), so sending it needs no MinIO.
    png = min((unifesp_dir() / "images").glob("*.png"), key=lambda p: p.stat().st_size).read_bytes()
    local_stack.stop_component("minio")
    try:
        down = _readiness_until(port, 503)
        assert down == {
            "status": "not ready: object_store down",
            "dependencies": {"consumer": "ok", "kafka": "ok", "object_store": "down"},
        }
        sent = stream.send_all([png])
    finally:
        local_stack.start_component("minio")
        stream.close()
    assert _readiness_until(port, 200)["status"] == "ready"
    outcomes = collect_outcomes(kafka_settings, sent, timeout_s=90, settle_s=2)
    assert outcomes.dead_letters == []
    assert [type(e) for e in outcomes.distinct(sent[0].event_id)] == [RadiographIngested]


def test_the_worker_reports_an_unreachable_kafka_as_down(s3_settings):
    """The worker's own checks against a Kafka address nobody listens on (refused at once), without
    stopping the session's broker: a Kafka start costs about 30 s of CI on two cores, and a broker
    restart under a stream is test_ingest_faults' test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    settings = IngestSettings(kafka=KafkaSettings(bootstrap_servers=closed), s3=s3_settings)
    worker = types.SimpleNamespace(settings=settings, _ready=True)
    status, body = readiness(IngestWorker._readiness_checks(worker))  # type: ignore[arg-type]
    assert status == 503 and body["dependencies"] == {"consumer": "ok", "kafka": "down", "object_store": "ok"}


def test_a_readiness_check_that_raises_is_down():
    """The probe's own logic, without servers: checks run side by side, a raising one is down."""

    def broken() -> bool:
        raise OSError("unreachable")

    status, body = readiness({"consumer": lambda: True, "kafka": broken, "object_store": lambda: False})
    assert status == 503 and body == {
        "status": "not ready: kafka, object_store down",
        "dependencies": {"consumer": "ok", "kafka": "down", "object_store": "down"},
    }
    assert readiness({"consumer": lambda: True})[0] == 200
