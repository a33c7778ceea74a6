"""``EventConsumer(concurrency=N)`` on the real broker (the streaming sort runs its consumer so): the records
of a poll are handled in several threads at once, and a stop while one record is still being retried
commits only what comes before it in its partition, so the group's next consumer gets that record and
every later one again (at least once, never lost)."""

from __future__ import annotations

import threading
import time

import pytest
from samx_core.bus import RetryableError
from samx_core.bus.consumer import EventConsumer, Subscription
from samx_core.bus.producer import EventPublisher
from samx_core.bus.topics import ensure_topics
from samx_core.events import Phase1Requested

pytestmark = pytest.mark.integration


class Handler:
    """Takes 0.2 s per event; ``stuck`` (a run id) fails as an outage would, until ``unstick``."""

    def __init__(self, stuck: str | None = None) -> None:
        self.stuck, self.handled, self.attempts_on_stuck = stuck, [], 0
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, event: Phase1Requested) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.2)
            if event.run_id == self.stuck:
                self.attempts_on_stuck += 1
                raise RetryableError("the service behind the handler does not answer")
            with self._lock:
                self.handled.append(event.run_id)
        finally:
            with self._lock:
                self.in_flight -= 1


def _run(consumer: EventConsumer, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    return thread


def _wait_for(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_records_are_handled_at_once_and_a_stop_commits_only_up_to_the_record_still_retried(kafka_settings):
    ensure_topics(kafka_settings, [Phase1Requested.TOPIC])
    run_ids = [f"run-{i:02d}" for i in range(12)]
    with EventPublisher(kafka_settings) as publisher:
        for run_id in run_ids:  # one key, one partition: the offsets follow this order
            publisher.publish(Phase1Requested(run_id=run_id, requested_by="operator"), key="one")
        publisher.flush()

        group = f"{kafka_settings.topic_namespace}-concurrent"
        first = Handler(stuck=run_ids[5])
        stop = threading.Event()
        consumer = EventConsumer(
            kafka_settings, group_id=group, publisher=publisher, concurrency=4,
            subscriptions=[Subscription(Phase1Requested, first)],
        )  # fmt: skip
        thread = _run(consumer, stop)
        try:
            _wait_for(lambda: set(run_ids[:5]) <= set(first.handled) and first.attempts_on_stuck >= 2)
            time.sleep(1.0)  # what else this poll brought is handled meanwhile
        finally:
            stop.set()
            thread.join(timeout=30)
            consumer.close()
        assert not thread.is_alive()
        assert first.most_in_flight >= 2, "a poll's records were handled one after the other"
        assert run_ids[5] not in first.handled

        second = Handler()
        stop = threading.Event()
        consumer = EventConsumer(
            kafka_settings, group_id=group, publisher=publisher, subscriptions=[Subscription(Phase1Requested, second)]
        )
        thread = _run(consumer, stop)
        try:
            _wait_for(lambda: len(second.handled) >= len(run_ids) - 5)
        finally:
            stop.set()
            thread.join(timeout=30)
            consumer.close()
    assert second.handled == run_ids[5:]  # the record still retried and all after it, in order, once
