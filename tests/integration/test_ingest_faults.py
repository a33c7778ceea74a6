"""Faults in the middle of a stream of 500 real radiographs: a worker killed with SIGKILL, and the
Kafka broker restarted. Nothing may be lost and nothing duplicated."""

from __future__ import annotations

import hashlib
import threading

import pytest
from samx_cli.stack.manager import LocalStack
from samx_core.bus.reader import EventReader
from samx_core.events import RadiographIngested

from tests.support.datasets import unifesp_dir
from tests.support.stream import Stream, collect_outcomes

pytestmark = [pytest.mark.integration, pytest.mark.fault]

STREAM_SIZE = 500


@pytest.fixture(scope="module")
def radiographs() -> list[bytes]:
    dataset = unifesp_dir()
    files = sorted((dataset / "images").glob("*.png")) + sorted((dataset / "unlabeled").glob("*.png"))
    # The archive holds a few byte-identical files (as real PACS exports do); those are duplicates by
    # design, so the stream takes distinct contents only.
    distinct = {hashlib.sha256(data).digest(): data for data in (p.read_bytes() for p in reversed(files))}
    return list(distinct.values())[:STREAM_SIZE]


def _wait_for_ingested(kafka_settings, count: int, timeout_s: float = 120) -> None:
    seen = 0
    with EventReader(kafka_settings, [RadiographIngested.TOPIC], from_beginning=True) as reader:
        for _ in reader.events(timeout_s=timeout_s):
            seen += 1
            if seen >= count:
                return
    raise AssertionError(f"only {seen} radiographs ingested before the fault was due")


def _assert_exactly_once(kafka_settings, s3_settings, stream: Stream, sent) -> None:
    outcomes = collect_outcomes(kafka_settings, sent, timeout_s=300, settle_s=3)
    assert outcomes.dead_letters == []
    image_ids = set()
    for event in sent:
        distinct = outcomes.distinct(event.event_id)
        assert len(distinct) == 1, f"{len(distinct)} different outcomes for one radiograph"
        assert isinstance(distinct[0], RadiographIngested), type(distinct[0]).__name__
        image_ids.add(distinct[0].image_id)
    assert len(image_ids) == STREAM_SIZE
    assert len(stream.store.list_keys(s3_settings.archive_bucket, "meta/")) == STREAM_SIZE


class BackgroundSender:
    """Streams the radiographs from a thread, so that the fault hits while files are still arriving."""

    def __init__(self, stream: Stream, radiographs: list[bytes]) -> None:
        self.sent: list = []
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(stream, radiographs))
        self._thread.start()

    def _run(self, stream: Stream, radiographs: list[bytes]) -> None:
        try:
            self.sent.extend(stream.send_all(radiographs))
        except BaseException as exc:  # surfaced by join()
            self.errors.append(exc)

    def join(self) -> list:
        self._thread.join(timeout=300)
        assert not self.errors, self.errors
        assert len(self.sent) == STREAM_SIZE
        return self.sent


def test_worker_killed_mid_stream_loses_and_duplicates_nothing(
    radiographs, kafka_settings, s3_settings, ingest_workers
):
    workers = ingest_workers(2)
    stream = Stream(kafka_settings, s3_settings)
    try:
        sender = BackgroundSender(stream, radiographs)
        _wait_for_ingested(kafka_settings, 60)
        victim, _ = workers[0]
        victim.kill_hard()
        assert not victim.running()
        ingest_workers(1)  # the restart
        _assert_exactly_once(kafka_settings, s3_settings, stream, sender.join())
    finally:
        stream.close()


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    radiographs, kafka_settings, s3_settings, ingest_workers, local_stack: LocalStack
):
    ingest_workers(2)
    stream = Stream(kafka_settings, s3_settings)
    try:
        sender = BackgroundSender(stream, radiographs)
        _wait_for_ingested(kafka_settings, 60)
        local_stack.restart("kafka")
        _assert_exactly_once(kafka_settings, s3_settings, stream, sender.join())
    finally:
        stream.close()
