"""Helpers for tests that stream radiographs through the real stack and collect what came out."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

from samx_core.bus import EventPublisher
from samx_core.bus.reader import EventReader
from samx_core.events import (
    DeadLetter,
    RadiographDuplicate,
    RadiographIngested,
    RadiographReceived,
    RadiographRejected,
)
from samx_core.intake import RadiographSender
from samx_core.settings import KafkaSettings, S3Settings
from samx_core.storage import ObjectStore

OUTCOME_TOPICS = [RadiographIngested.TOPIC, RadiographRejected.TOPIC, RadiographDuplicate.TOPIC, DeadLetter.TOPIC]


@dataclass
class Outcomes:
    """Every outcome event seen, grouped by the received event it answers."""

    by_received: dict[UUID, list] = field(default_factory=lambda: defaultdict(list))
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def add(self, event) -> None:
        if isinstance(event, DeadLetter):
            self.dead_letters.append(event)
        else:
            self.by_received[event.received_event_id].append(event)

    def distinct(self, received_id: UUID) -> list:
        """Outcomes of one input with replays (same event id) folded: at-least-once delivery may repeat
        an event, but it must never produce two different outcomes."""
        return list({event.event_id: event for event in self.by_received.get(received_id, [])}.values())


class Stream:
    def __init__(self, kafka: KafkaSettings, s3: S3Settings, *, site_id: str = "test-site") -> None:
        self.store = ObjectStore(s3)
        self.store.ensure_buckets(s3.incoming_bucket, s3.archive_bucket)
        self.kafka = kafka
        self.publisher = EventPublisher(kafka)
        self.sender = RadiographSender(
            self.store, self.publisher, incoming_bucket=s3.incoming_bucket, site_id=site_id, sent_by="test"
        )

    def send_all(self, files: list[bytes]) -> list[RadiographReceived]:
        sent = [self.sender.send(data) for data in files]
        self.sender.flush()
        return sent

    def close(self) -> None:
        self.publisher.close()


def unreleased_claim_checks(store: ObjectStore, incoming_bucket: str, *, timeout_s: float = 10.0) -> list[str]:
    """The claim checks still in the incoming bucket after waiting up to ``timeout_s``: a worker releases
    them after its batch, so the last outcomes can be read a moment before their files are gone."""
    deadline = time.monotonic() + timeout_s
    while (left := store.list_keys(incoming_bucket, "")) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def collect_outcomes(
    kafka: KafkaSettings,
    received: list[RadiographReceived],
    *,
    timeout_s: float,
    settle_s: float = 0.0,
    reader: EventReader | None = None,
) -> Outcomes:
    """Reads outcome topics from the beginning until each received event has an outcome, then keeps
    reading ``settle_s`` more seconds to catch late re-deliveries."""
    outcomes = Outcomes()
    pending = {event.event_id for event in received}
    own_reader = reader is None
    reader = reader or EventReader(kafka, OUTCOME_TOPICS, from_beginning=True)
    try:
        deadline = time.monotonic() + timeout_s
        for event in reader.events(timeout_s=timeout_s):
            outcomes.add(event)
            if not isinstance(event, DeadLetter):
                pending.discard(event.received_event_id)
            if not pending:
                break
            if time.monotonic() > deadline:
                break
        if settle_s:
            for event in reader.events(timeout_s=settle_s):
                outcomes.add(event)
    finally:
        if own_reader:
            reader.close()
    return outcomes
