"""Reading events outside a consumer group: for the CLI's progress, tests and end-to-end checks.

It assigns every partition of the given topics itself (no group, no commits), starting at the end
(only what happens from now on) or at the beginning."""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition

from samx_core.events import Event, event_type_for_topic
from samx_core.settings import KafkaSettings


class EventReader:
    def __init__(self, settings: KafkaSettings, topics: list[str], *, from_beginning: bool = False) -> None:
        self._consumer = KafkaConsumer(**settings.client_kwargs(), group_id=None, enable_auto_commit=False)
        self._event_types = {settings.topic(name): event_type_for_topic(name) for name in topics}
        partitions = []
        for topic in self._event_types:
            for partition in self._consumer.partitions_for_topic(topic) or set():
                partitions.append(TopicPartition(topic, partition))
        if not partitions:
            raise RuntimeError(f"none of the topics {topics} exists; is the ingest service running?")
        self._consumer.assign(partitions)
        if from_beginning:
            self._consumer.seek_to_beginning(*partitions)
        else:
            self._consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the lazy seek now, so events published after this call count
                self._consumer.position(tp)

    def events(self, *, timeout_s: float, idle_s: float | None = None) -> Iterator[Event]:
        """Yields events until ``timeout_s`` passes (or nothing arrives for ``idle_s``)."""
        deadline = time.monotonic() + timeout_s
        last_seen = time.monotonic()
        while time.monotonic() < deadline:
            batches = self._consumer.poll(timeout_ms=250, max_records=500)
            for records in batches.values():
                for record in records:
                    last_seen = time.monotonic()
                    yield self._event_types[record.topic].from_bytes(record.value)
            if idle_s is not None and time.monotonic() - last_seen > idle_s:
                return

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> EventReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
