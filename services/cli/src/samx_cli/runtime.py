"""Connections the CLI opens for a command and closes after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from samx_core.bus import EventPublisher, ensure_topics
from samx_core.events import ALL_EVENTS
from samx_core.intake import RadiographSender
from samx_core.storage import ObjectStore

from samx_cli.config import kafka_settings, s3_settings


@contextmanager
def open_sender(env: dict[str, str], site_id: str) -> Iterator[RadiographSender]:
    s3 = s3_settings(env)
    kafka = kafka_settings(env)
    store = ObjectStore(s3)
    store.ensure_buckets(s3.incoming_bucket, s3.archive_bucket)
    ensure_topics(kafka, [event.TOPIC for event in ALL_EVENTS])
    publisher = EventPublisher(kafka)
    try:
        yield RadiographSender(
            store, publisher, incoming_bucket=s3.incoming_bucket, site_id=site_id, sent_by="samx-send"
        )
    finally:
        publisher.flush()
        publisher.close()
