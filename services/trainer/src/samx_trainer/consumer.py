"""``samx-trainer consume``: phase 2 for every ``labels.published`` event.

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

from ray.exceptions import ActorDiedError, GetTimeoutError, RaySystemError
from samx_core.bus import EventConsumer, EventPublisher, RetryableError, ensure_topics
from samx_core.bus.consumer import Subscription
from samx_core.events import DeadLetter, LabelsPublished, ModelPublished
from samx_core.storage import ObjectStore

from samx_trainer.phase2_archive import read_labelset
from samx_trainer.phase2_data import Phase2DataError
from samx_trainer.phase2_job import ModelExistsError, run_phase2
from samx_trainer.settings import Settings

log = logging.getLogger(__name__)


class LabelsConsumer:
    def __init__(self, settings: Settings, profile: str) -> None:
        self.settings, self.profile = settings, profile
        self.store = ObjectStore(settings.s3)
        ensure_topics(settings.kafka, [LabelsPublished.TOPIC, ModelPublished.TOPIC, DeadLetter.TOPIC])
        self.publisher = EventPublisher(settings.kafka)
        self.consumer = EventConsumer(
            settings.kafka,
            group_id=settings.trainer.consumer_group,
            subscriptions=[Subscription(LabelsPublished, self.handle)],
            publisher=self.publisher,
            max_batch=1,  # one training run per poll
        )

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
    LabelsConsumer(settings, profile).run(stop)
