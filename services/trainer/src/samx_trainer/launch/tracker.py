"""Following submitted jobs to their end, beside the poll loop (which commits an event once its job is
submitted). A job that fails must not go unnoticed: it is logged with its reason type and a DeadLetter
(reason ``job_failed``) carries the event that asked for it, so it can be replayed once the cause is
fixed. Nothing of the job's output goes anywhere (it can quote data)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from samx_core.bus import EventPublisher
from samx_core.events import DeadLetter, Event

from samx_trainer.launch.port import JobState, JobStatus, Launcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tracked:
    name: str
    event: Event
    topic: str  # as named on the broker


class JobTracker:
    def __init__(
        self,
        launcher: Launcher,
        publisher: EventPublisher,
        consumer_group: str,
        every_s: float,
        on_end: Callable[[Tracked, JobStatus], None] | None = None,
    ) -> None:
        self.launcher, self.publisher, self.group, self.every_s = launcher, publisher, consumer_group, every_s
        self.on_end = on_end or (lambda tracked, status: None)
        self._jobs: dict[str, Tracked] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def track(self, tracked: Tracked) -> None:
        with self._lock:
            self._jobs.setdefault(tracked.name, tracked)

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self._jobs)

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._loop, args=(stop,), name="job-tracker", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            self.check()

    def check(self) -> None:
        for name in self.pending():
            try:
                status = self.launcher.status(name)
            except Exception as exc:  # the backend unreachable for a while: ask again next round
                log.warning("job %s: state unknown (%s); asking again", name, type(exc).__name__)
                continue
            if status.state is JobState.UNKNOWN and self.launcher.backend == "kuberay":
                continue  # a dry run, or deleted after its TTL: nothing more to learn
            if not status.state.terminal:
                continue
            with self._lock:
                tracked = self._jobs.pop(name)
            self._report(tracked, status)

    def _report(self, tracked: Tracked, status: JobStatus) -> None:
        if status.state is JobState.SUCCEEDED:
            log.info("job %s succeeded", tracked.name)
        else:
            log.error("job %s ended %s (%s)", tracked.name, status.state, status.reason_type)
            self.publisher.publish(
                DeadLetter(
                    consumer_group=self.group,
                    original_topic=tracked.topic,
                    # the tracker has the event, not its record: where it was on the topic is not known here
                    partition=0,
                    offset=0,
                    key=getattr(tracked.event, "run_id", "").encode() or None,
                    value=tracked.event.to_bytes(),
                    headers={"samx-event-type": type(tracked.event).__name__, "samx-job": tracked.name},
                    reason="job_failed",
                    error_type=(status.reason_type or status.state.value)[:200],
                    detail=f"training job {tracked.name} ended {status.state.value}; see the backend's job logs",
                ),
                key=f"job:{tracked.name}",
            )
            self.publisher.flush()
        self.on_end(tracked, status)
