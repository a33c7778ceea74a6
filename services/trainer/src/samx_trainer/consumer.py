"""``samx-trainer consume``: phase 1 for every ``phase1.requested``, phase 2 for every ``labels.published``.

A phase-1 request whose run already finished (its ``report.md`` exists) is acknowledged without running
again; one that stopped half-way resumes from its pretext checkpoints (same run id). An archive with too
few radiographs is the request's fault: dead-lettered with the reason.

The label set comes by claim check (the event's ``labelset`` reference). A bad event (invalid JSON, a
run without a backbone, a label set with fewer than two classes) is dead-lettered by the bus with its
reason and the consumer goes on; a re-delivered event finds its model version in the registry and is
acknowledged without training again (the version is derived from run id and label-set version).

Training runs inside the poll loop, so a run longer than the consumer's ``max.poll.interval`` (10
minutes) hands the partition to another group member; use the ``ci`` profile here or one consumer.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import replace

from ray.exceptions import ActorDiedError, GetTimeoutError, RaySystemError
from samx_core.bus import EventConsumer, EventPublisher, RetryableError, ensure_topics
from samx_core.bus.consumer import Subscription
from samx_core.events import ClusteringCompleted, DeadLetter, Event, LabelsPublished, ModelPublished, Phase1Requested
from samx_core.storage import ObjectStore

from samx_trainer.job import run_phase1
from samx_trainer.phase2_archive import read_labelset
from samx_trainer.phase2_data import Phase2DataError
from samx_trainer.phase2_job import ModelExistsError, run_phase2
from samx_trainer.settings import Settings

log = logging.getLogger(__name__)


class TrainerConsumer:
    def __init__(self, settings: Settings, profile: str) -> None:
        self.settings, self.profile = settings, profile
        self.store = ObjectStore(settings.s3)
        topics: list[type[Event]] = [Phase1Requested, ClusteringCompleted, LabelsPublished, ModelPublished, DeadLetter]
        ensure_topics(settings.kafka, [t.TOPIC for t in topics])
        self.publisher = EventPublisher(settings.kafka)
        self.consumer = EventConsumer(
            settings.kafka,
            group_id=settings.trainer.consumer_group,
            subscriptions=[
                Subscription(LabelsPublished, self.handle),
                Subscription(Phase1Requested, self.handle_phase1),
            ],
            publisher=self.publisher,
            max_batch=1,  # one training run per poll
        )

    def handle_phase1(self, event: Phase1Requested) -> None:
        done_key = f"{self.settings.trainer.runs_prefix.strip('/')}/{event.run_id}/report.md"
        if self.store.exists(self.settings.s3.archive_bucket, done_key):
            log.info("phase-1 run %s is complete already: request acknowledged", event.run_id)
            return
        settings = self.settings
        if event.n_clusters is not None:
            trainer = settings.trainer.model_copy(update={"n_clusters": event.n_clusters})
            settings = replace(settings, trainer=trainer)
        log.info("phase 1 requested by %s: run %s, profile %s", event.requested_by, event.run_id, event.profile)
        try:
            run_phase1(settings, event.profile, run_id=event.run_id)
        except (ActorDiedError, RaySystemError, GetTimeoutError) as exc:
            raise RetryableError(f"Ray cluster failure: {type(exc).__name__}") from exc

    def handle(self, event: LabelsPublished) -> None:
        labelset = read_labelset(self.store, event.labelset)
        if labelset.run_id != event.run_id or labelset.version != event.labelset_version:
            raise Phase2DataError("the label set object does not match the event's run id and version")
        try:
            result = run_phase2(self.settings, self.profile, labelset)
        except ModelExistsError:
            log.info("run %s label set v%s: model already trained", event.run_id, event.labelset_version)
            return
        except (ActorDiedError, RaySystemError, GetTimeoutError) as exc:
            # The Ray cluster failed under the run, not the event: retry it (the bus backs off) rather
            # than dead-letter a good label set; checkpoints in MinIO let the retry resume.
            raise RetryableError(f"Ray cluster failure: {type(exc).__name__}") from exc
        log.info("trained %s (%s)", result.manifest.version, result.promotion_note)

    def run(self, stop: threading.Event) -> None:
        try:
            self.consumer.run(stop)
        finally:
            self.consumer.close()
            self.publisher.flush()
            self.publisher.close()


def run_consumer(settings: Settings, profile: str) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    TrainerConsumer(settings, profile).run(stop)
