"""The ingest worker process: consumes ``radiograph.received``, runs the pipeline, serves health.

Several workers in one consumer group share the partitions; kill one and the others (or its restart)
pick up its uncommitted messages."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from samx_core.bus import EventConsumer, EventPublisher, HandlerOutcome, ensure_topics
from samx_core.bus.consumer import Subscription
from samx_core.events import ALL_EVENTS, RadiographReceived
from samx_core.reachability import kafka_reachable, object_store_reachable
from samx_core.storage import ObjectStore
from samx_core.telemetry import bootstrap_telemetry

from samx_ingest.archive import ObjectStoreArchive
from samx_ingest.observability import HealthServer, IngestMetrics
from samx_ingest.pipeline import IngestPipeline
from samx_ingest.settings import DeidentificationSecretMissing, IngestSettings

log = logging.getLogger(__name__)


class IngestWorker:
    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self.stop_event = threading.Event()
        self._ready = False
        store = ObjectStore(settings.s3, timeout_s=settings.object_store_timeout_s)
        store.ensure_buckets(settings.s3.incoming_bucket, settings.s3.archive_bucket)
        ensure_topics(settings.kafka, [event.TOPIC for event in ALL_EVENTS])
        self.publisher = EventPublisher(settings.kafka)
        archive = ObjectStoreArchive(store, archive_bucket=settings.s3.archive_bucket)
        archive.set_retention(
            settings.s3.incoming_bucket,
            quarantine_days=settings.policy.quarantine_retention_days,
            incoming_days=settings.policy.incoming_retention_days,
        )
        self.pipeline = IngestPipeline(archive, self.publisher, settings.policy)
        self.consumer = EventConsumer(
            settings.kafka,
            group_id=settings.consumer_group,
            subscriptions=[Subscription(RadiographReceived, self._handle)],
            publisher=self.publisher,
            max_batch=settings.max_batch,
            on_outcome=self._count_outcome,
            on_batch_done=self.pipeline.release_claim_checks,
        )
        self.health = HealthServer(settings.health_host, settings.health_port, self.metrics, self._readiness_checks())

    def _readiness_checks(self) -> dict[str, Callable[[], bool]]:
        """What /readyz reports: the consumer loop runs, and Kafka and the object store are reachable
        (a TCP connection within SAMX_INGEST_READINESS_TIMEOUT_S; kafka-python and MinIO's client retry
        for much longer). A worker without partitions (more workers than partitions) is idle, not
        unready, so the assignment is not a condition."""
        s, timeout_s = self.settings, self.settings.readiness_timeout_s
        return {
            "consumer": lambda: self._ready,
            "kafka": lambda: kafka_reachable(s.kafka.bootstrap_servers, timeout_s=timeout_s),
            "object_store": lambda: object_store_reachable(s.s3.endpoint, secure=s.s3.secure, timeout_s=timeout_s),
        }

    def _handle(self, event: RadiographReceived) -> None:
        started = time.perf_counter()
        result = self.pipeline.handle(event)
        self.metrics.outcomes.labels(result.outcome.value).inc()
        if result.reason is not None:
            self.metrics.rejections.labels(result.reason.value).inc()
        self.metrics.latency.observe(time.perf_counter() - started)

    def _count_outcome(self, topic: str, outcome: HandlerOutcome, seconds: float) -> None:
        if outcome is HandlerOutcome.DEAD_LETTERED:
            self.metrics.dead_letters.inc()

    def _watch_lag(self) -> None:
        while not self.stop_event.wait(5.0):
            try:
                self.metrics.lag.set(self.consumer.lag())
            except Exception:  # lag is best effort; a metrics hiccup must not touch ingest
                log.debug("could not read consumer lag", exc_info=True)

    def run(self) -> None:
        self.health.start()
        threading.Thread(target=self._watch_lag, name="lag", daemon=True).start()
        self._ready = True
        log.info("ingest worker ready; health on port %s", self.health.port)
        try:
            self.consumer.run(self.stop_event)
        finally:
            self._ready = False
            try:
                self.pipeline.release_claim_checks()  # a stop mid-batch: what it handled is durable
            except Exception as exc:
                log.warning("claim checks not released at stop (%s); their replays will", type(exc).__name__)
            self.consumer.close()
            self.publisher.flush()
            self.publisher.close()
            self.health.stop()


def quiet_dicom_warnings() -> None:
    """pydicom's value-check warnings quote header values (names, UIDs, dates): keep them out of logs."""
    import pydicom

    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE


def run_worker(settings: IngestSettings) -> None:
    quiet_dicom_warnings()
    bootstrap_telemetry("samx-ingest", settings.telemetry)
    try:
        worker = IngestWorker(settings)
    except DeidentificationSecretMissing as missing:
        raise SystemExit(f"samx-ingest: {missing}") from None
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop_event.set())
    worker.run()
