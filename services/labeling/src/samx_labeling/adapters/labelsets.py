"""Label sets to the archive bucket (``samx_core.archive.label_set_key``) and ``labels.published`` to Kafka."""

from __future__ import annotations

import uuid

from kafka.errors import KafkaError
from samx_core.archive import label_set_key
from samx_core.bus import EventPublisher, PublishFailedError, RetryableError, ensure_topics
from samx_core.events import LabelsPublished, ObjectRef
from samx_core.settings import KafkaSettings
from samx_core.storage import ObjectStore

from samx_labeling.domain.ports import AnnounceFailed, PublishedObject

_EVENT_NAMESPACE = uuid.UUID("3c1f6a2e-8d0b-4f7e-9b1a-6e2d4c8f0a15")


class ArchiveLabelSetSink:
    """Storing needs only the object store; the broker is connected on the first announcement, so that a
    label set can be published (stored, committed) while Kafka is down and announced when it is back."""

    def __init__(
        self, store: ObjectStore, kafka: KafkaSettings, *, archive_bucket: str, announce_timeout_s: float = 10.0
    ) -> None:
        self._store = store
        self._kafka = kafka
        self._publisher: EventPublisher | None = None
        self.bucket = archive_bucket
        self._timeout_s = announce_timeout_s

    @classmethod
    def connect(
        cls, store: ObjectStore, kafka: KafkaSettings, *, archive_bucket: str, announce_timeout_s: float = 10.0
    ) -> ArchiveLabelSetSink:
        store.ensure_buckets(archive_bucket)
        return cls(store, kafka, archive_bucket=archive_bucket, announce_timeout_s=announce_timeout_s)

    def _connected(self) -> EventPublisher:
        if self._publisher is None:
            # topics are never auto-created; bounded like the announcement itself (kafka-python's default
            # 30 s bootstrap kept a publish waiting three times announce_timeout_s while Kafka was down)
            ensure_topics(self._kafka, [LabelsPublished.TOPIC], timeout_s=self._timeout_s)
            self._publisher = EventPublisher(self._kafka, max_block_s=self._timeout_s)
        return self._publisher

    def store(self, run_id: str, version: int, document: dict) -> PublishedObject:
        stored = self._store.put_json(self.bucket, label_set_key(run_id, version), document)
        return PublishedObject(stored.bucket, stored.key, stored.sha256, stored.size_bytes)

    def announce(self, run_id: str, version: int, stored: PublishedObject, document: dict) -> None:
        event = LabelsPublished(
            # One id per label set version: an announcement retried by the outbox is deduped downstream.
            event_id=uuid.uuid5(_EVENT_NAMESPACE, f"{run_id}:{version}"),
            run_id=run_id,
            labelset_version=version,
            labelset=ObjectRef(
                bucket=stored.bucket,
                key=stored.key,
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
                content_type="application/json",
            ),
            classes=document["classes"],
            n_clusters_named=document["n_clusters_named"],
            n_clusters_discarded=document["n_clusters_discarded"],
            n_images_named=document["n_images_named"],
            published_by=document["published_by"],
        )
        # Waits (bounded) for the broker's acknowledgement: only then is the label set marked announced.
        try:
            self._connected().publish_and_wait(event, key=run_id, timeout_s=self._timeout_s)
        except (KafkaError, PublishFailedError, RetryableError, TimeoutError) as exc:
            raise AnnounceFailed(f"labels.published not acknowledged ({type(exc).__name__})") from exc

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
