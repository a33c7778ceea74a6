"""Following submitted jobs to their end, beside the poll loop (which commits an event once its job is
submitted). A job that fails must not go unnoticed: it is logged with its reason type and a DeadLetter
(reason ``job_failed``) carries the event that asked for it, so it can be replayed once the cause is
fixed. Nothing of the job's output goes anywhere (it can quote data).

A consumer that starts (a restart, a second pod after the first one died) first asks the backend for the
jobs still running and follows them too: the event that asked for each travels with the job
(``launch.port.Origin``), so an earlier consumer's job that fails is dead-lettered all the same."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from samx_core.bus import EventPublisher
from samx_core.events import DeadLetter

from samx_trainer.launch.port import JobState, JobStatus, Launcher, Origin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tracked:
    name: str
    origin: Origin


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
        recovered = False
        while True:
            recovered = recovered or self.recover()
            self.check()
            if stop.wait(self.every_s):
                return

    def recover(self) -> bool:
        """Follow the backend's unfinished jobs (an earlier consumer's among them); False: ask again."""
        try:
            jobs = self.launcher.unfinished()
        except Exception as exc:  # the backend not answering yet (a Ray head coming up): next round
            log.warning("unfinished jobs: not known yet (%s); asking again", type(exc).__name__)
            return False
        for job in jobs:
            self.track(Tracked(job.name, job.origin))
        if jobs:
            log.info("following %d unfinished job(s): %s", len(jobs), ", ".join(j.name for j in jobs))
        return True

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
        event = tracked.origin.event
        if status.state is JobState.SUCCEEDED:
            log.info("job %s succeeded", tracked.name)
        else:
            log.error("job %s ended %s (%s)", tracked.name, status.state, status.reason_type)
            self.publisher.publish(
                DeadLetter(
                    consumer_group=self.group,
                    original_topic=tracked.origin.topic,
                    # the tracker has the event, not its record: where it was on the topic is not known here
                    partition=0,
                    offset=0,
                    key=getattr(event, "run_id", "").encode() or None,
                    value=event.to_bytes(),
                    headers={"samx-event-type": type(event).__name__, "samx-job": tracked.name},
                    reason="job_failed",
                    error_type=(status.reason_type or status.state.value)[:200],
                    detail=f"training job {tracked.name} ended {status.state.value}; see the backend's job logs",
                ),
                key=f"job:{tracked.name}",
            )
            self.publisher.flush()
        self.on_end(tracked, status)
