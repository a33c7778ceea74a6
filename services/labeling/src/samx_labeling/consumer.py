"""The ``clustering.completed`` consumer: opens a labeling session per phase-1 run.

At-least-once delivery re-delivers events after a crash or rebalance; ``open_session`` is idempotent on
the run id. Events whose artifacts are missing or malformed raise, and the bus dead-letters them with
the reason (``samx_core.bus``) instead of stopping the stream; an object-store outage is retried."""

from __future__ import annotations

import logging
import threading

from samx_core.bus import EventConsumer, EventPublisher, ensure_topics
from samx_core.bus.consumer import Subscription
from samx_core.events import ClusteringCompleted, DeadLetter, LabelsPublished
from samx_core.settings import KafkaSettings
from samx_core.storage import ObjectStore
from sqlalchemy.orm import sessionmaker

from samx_labeling.adapters.phase1_store import ObjectStorePhase1Artifacts
from samx_labeling.domain.sessions import RunDescription, open_session

log = logging.getLogger(__name__)


def handle_clustering_completed(event: ClusteringCompleted, sessions: sessionmaker, store: ObjectStore) -> bool:
    run = RunDescription(
        run_id=event.run_id,
        profile=event.profile,
        n_images=event.n_images,
        n_clusters=event.n_clusters,
        artifacts_bucket=event.clusters.bucket,
        artifacts_prefix=event.artifacts_prefix,
        source_event_id=str(event.event_id),
        metrics=event.metrics,
        embeddings_bucket=event.embeddings.bucket,
        embeddings_key=event.embeddings.key,
    )
    with sessions() as session:
        created = open_session(session, run, ObjectStorePhase1Artifacts(store, event))
    log.info("run %s: %s", event.run_id, "labeling session opened" if created else "already open (replay)")
    return created


class ClusteringConsumer:
    """Runs the consumer loop in a daemon thread next to the API (``samx-labeling serve``)."""

    def __init__(self, kafka: KafkaSettings, group_id: str, sessions: sessionmaker, store: ObjectStore) -> None:
        ensure_topics(kafka, [ClusteringCompleted.TOPIC, LabelsPublished.TOPIC, DeadLetter.TOPIC])
        self._publisher = EventPublisher(kafka)
        self._consumer = EventConsumer(
            kafka,
            group_id=group_id,
            subscriptions=[
                Subscription(ClusteringCompleted, lambda e: handle_clustering_completed(e, sessions, store))
            ],
            publisher=self._publisher,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clustering-consumer", daemon=True)

    def _run(self) -> None:
        try:
            self._consumer.run(self._stop)
        except Exception:  # a dead consumer thread must be visible: /readyz reports it
            log.exception("the clustering.completed consumer stopped")
            raise

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._consumer.close()
        self._publisher.close()
