"""``samx-trainer consume``: a phase-1 job for every ``phase1.requested``, a phase-2 job for every
``labels.published``, submitted through the launcher (``samx_trainer.launch``) and never run in the poll
loop, so a run of any length keeps the consumer in its group.

Per event the consumer does the cheap checks and then submits: a phase-1 run that finished already (its
``report.md`` exists) is acknowledged; an empty archive, a label set that does not match its event, a run
without assignments or backbone are the event's fault and dead-lettered by the bus with the reason; a
model already in the registry is acknowledged. The job is named from the run (``launch.names``), so a
redelivered or replayed event finds its job (running or ended) and starts no second run. The event is
committed once the job is submitted; the tracker follows the job to its end and dead-letters a failed one
(reason ``job_failed``, the job's error type), also a job that an earlier consumer submitted (the event
travels with the job).
"""

from __future__ import annotations

import logging
import signal
import threading

from samx_core.archive import (
    RADIOGRAPH_RECORD_PREFIX,
    assignments_key,
    backbone_key,
    image_id_of_record_key,
    run_prefix,
    run_report_key,
)
from samx_core.bus import EventConsumer, EventPublisher, RetryableError, ensure_topics
from samx_core.bus.consumer import HandlerOutcome, Subscription
from samx_core.events import ClusteringCompleted, DeadLetter, Event, LabelsPublished, ModelPublished, Phase1Requested
from samx_core.model_registry import ModelRegistry
from samx_core.storage import ObjectStore

from samx_trainer.launch.factory import make_launcher
from samx_trainer.launch.names import JobRequest
from samx_trainer.launch.port import JobState, Launcher, Origin
from samx_trainer.launch.tracker import JobTracker, Tracked
from samx_trainer.phase1.data import Phase1DataError
from samx_trainer.phase2.archive import read_labelset
from samx_trainer.phase2.data import Phase2DataError
from samx_trainer.phase2.job import default_model_version
from samx_trainer.settings import Settings

log = logging.getLogger(__name__)


class TrainerConsumer:
    def __init__(self, settings: Settings, profile: str, launcher: Launcher | None = None) -> None:
        self.settings, self.profile = settings, profile
        self.store = ObjectStore(settings.s3)
        self.launcher = launcher or make_launcher(settings, settings.launcher)
        topics: list[type[Event]] = [Phase1Requested, ClusteringCompleted, LabelsPublished, ModelPublished, DeadLetter]
        ensure_topics(settings.kafka, [t.TOPIC for t in topics])
        self.publisher = EventPublisher(settings.kafka)
        group = settings.launcher.consumer_group or settings.trainer.consumer_group
        self.tracker = JobTracker(self.launcher, self.publisher, group, settings.launcher.track_every_s)
        self._stop: threading.Event | None = None
        self._seen = 0
        self.consumer = EventConsumer(
            settings.kafka,
            group_id=group,
            subscriptions=[
                Subscription(LabelsPublished, self.handle),
                Subscription(Phase1Requested, self.handle_phase1),
            ],
            publisher=self.publisher,
            max_batch=1,
            on_outcome=self._counted,
        )

    # -- the handlers: cheap checks, then one job per run ---------------------------------------------
    def handle_phase1(self, event: Phase1Requested) -> None:
        bucket, runs = self.settings.s3.archive_bucket, self.settings.trainer.runs_prefix.strip("/")
        if self.store.exists(bucket, run_report_key(run_prefix(runs, event.run_id))):
            log.info("phase-1 run %s is complete already: request acknowledged", event.run_id)
            return
        if not any(image_id_of_record_key(k) for k in self.store.list_keys(bucket, RADIOGRAPH_RECORD_PREFIX)):
            raise Phase1DataError(f"the archive bucket {bucket!r} holds no ingested radiographs (no meta/ records)")
        log.info("phase 1 requested by %s: run %s, profile %s", event.requested_by, event.run_id, event.profile)
        request = JobRequest("phase1", event.run_id, profile=event.profile, n_clusters=event.n_clusters)
        self._submit(request, event, Phase1Requested.TOPIC)

    def handle(self, event: LabelsPublished) -> None:
        labelset = read_labelset(self.store, event.labelset)
        if labelset.run_id != event.run_id or labelset.version != event.labelset_version:
            raise Phase2DataError("the label set object does not match the event's run id and version")
        bucket = self.settings.s3.archive_bucket
        version = default_model_version(event.run_id, event.labelset_version)
        if self.store.exists(bucket, ModelRegistry(self.store, bucket).manifest_key(version)):
            log.info("run %s label set v%s: model already trained", event.run_id, event.labelset_version)
            return
        base = run_prefix(self.settings.trainer.runs_prefix, event.run_id)
        for key, why in (
            (assignments_key(base), "has no assignments.csv"),
            (backbone_key(base), "has no backbone.pt (runs before phase 2 existed did not keep it); re-run phase 1"),
        ):
            if not self.store.exists(bucket, key):
                raise Phase2DataError(f"phase-1 run {event.run_id!r} {why}")
        request = JobRequest("phase2", event.run_id, event.labelset_version, profile=self.profile)
        self._submit(request, event, LabelsPublished.TOPIC)

    def _submit(self, request: JobRequest, event: Event, topic: str) -> None:
        origin = Origin(self.settings.kafka.topic(topic), event)
        try:
            submitted = self.launcher.submit(request, origin)
        except (OSError, RuntimeError) as exc:
            # the job backend is down (Ray head restarting, API server unreachable), not the event: retry
            raise RetryableError(f"launcher {self.launcher.backend}: {type(exc).__name__}") from exc
        if submitted.created:
            log.info(
                "run %s: %s job %s submitted (%s)", request.run_id, request.phase, submitted.name, self.launcher.backend
            )
        else:
            state = self.launcher.status(submitted.name).state
            log.info("run %s: job %s exists already (%s): no second run", request.run_id, submitted.name, state)
            if state.terminal or state is JobState.UNKNOWN:
                return
        self.tracker.track(Tracked(submitted.name, origin))

    def _counted(self, topic: str, outcome: HandlerOutcome, seconds: float) -> None:
        self._seen += 1  # handled or dead-lettered: a test (SAMX_LAUNCHER_MAX_EVENTS) stops after its messages
        budget = self.settings.launcher.max_events
        if budget and self._seen >= budget and self._stop is not None:
            self._stop.set()

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        self.tracker.start(stop)
        try:
            self.consumer.run(stop)
        finally:
            self.tracker.join(timeout=10)
            self.consumer.close()
            self.publisher.flush()
            self.publisher.close()


def run_consumer(settings: Settings, profile: str) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    TrainerConsumer(settings, profile).run(stop)
