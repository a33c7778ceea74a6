"""Label sets to the archive bucket (``labelsets/<run_id>/v<N>.json``) and ``labels.published`` to Kafka."""

from __future__ import annotations

from samx_core.bus import EventPublisher, ensure_topics
from samx_core.events import LabelsPublished, ObjectRef
from samx_core.settings import KafkaSettings
from samx_core.storage import ObjectStore

from samx_labeling.domain.ports import PublishedObject


class ArchiveLabelSetSink:
    def __init__(self, store: ObjectStore, publisher: EventPublisher, *, archive_bucket: str) -> None:
        self._store = store
        self._publisher = publisher
        self._bucket = archive_bucket

    @classmethod
    def connect(cls, store: ObjectStore, kafka: KafkaSettings, *, archive_bucket: str) -> ArchiveLabelSetSink:
        """Makes sure the bucket and the topic exist (topics are never auto-created), then connects."""
        store.ensure_buckets(archive_bucket)
        ensure_topics(kafka, [LabelsPublished.TOPIC])
        return cls(store, EventPublisher(kafka), archive_bucket=archive_bucket)

    def store(self, run_id: str, version: int, document: dict) -> PublishedObject:
        stored = self._store.put_json(self._bucket, f"labelsets/{run_id}/v{version}.json", document)
        return PublishedObject(stored.bucket, stored.key, stored.sha256, stored.size_bytes)

    def announce(self, run_id: str, version: int, stored: PublishedObject, document: dict) -> None:
        event = LabelsPublished(
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
        # Waits for the broker's acknowledgement: the API answers only once phase 2 can see it.
        self._publisher.publish_and_wait(event, key=run_id)

    def close(self) -> None:
        self._publisher.close()
