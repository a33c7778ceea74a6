"""Topic creation. Topics are created explicitly (partitions matter for parallel ingest), never by a
broker's auto-create on first use."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from samx_core.settings import KafkaSettings

log = logging.getLogger(__name__)


def ensure_topics(settings: KafkaSettings, topics: Iterable[str], *, timeout_s: float | None = None) -> list[str]:
    """Create the topics that do not exist yet (names before the namespace prefix); returns the ones
    created. Safe to run concurrently. ``timeout_s`` bounds the broker's bootstrap and each request
    (default: kafka-python's 30 s bootstrap, the settings' request timeout); an unreachable broker raises
    ``KafkaTimeoutError``."""
    topics = [settings.topic(name) for name in topics]
    kwargs: dict[str, Any] = {**settings.client_kwargs()}
    if timeout_s is not None:
        kwargs |= {"bootstrap_timeout_ms": int(timeout_s * 1000), "request_timeout_ms": int(timeout_s * 1000)}
    admin = KafkaAdminClient(**kwargs)
    try:
        existing = set(admin.list_topics())
        missing = sorted(set(topics) - existing)
        if not missing:
            return []
        new = [NewTopic(name, settings.topic_partitions, settings.topic_replication) for name in missing]
        try:
            admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass  # another service created them between our list and create
        log.info("created topics %s", missing)
        return missing
    finally:
        admin.close()
