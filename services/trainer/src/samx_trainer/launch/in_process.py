"""With no Ray cluster configured (``SAMX_RAY_ADDRESS`` unset: a local Ray inside this process), a job
is a thread of the consumer's process: still out of the poll loop (the event is committed once the
thread runs) and one per name for the life of the process. Across restarts the run's own markers keep
it from training twice (a finished phase-1 run has its report, a phase-2 model is in the registry)."""

from __future__ import annotations

import logging
import threading

from samx_trainer.launch.names import JobRequest, job_name
from samx_trainer.launch.port import JobState, JobStatus, Origin, Submitted, Unfinished
from samx_trainer.launch.run import run_request
from samx_trainer.settings import Settings

log = logging.getLogger(__name__)


class InProcessLauncher:
    backend = "in-process"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._states: dict[str, JobStatus] = {}

    def submit(self, request: JobRequest, origin: Origin | None = None) -> Submitted:
        name = job_name(request)
        with self._lock:
            if name in self._states:
                return Submitted(name, created=False)
            self._states[name] = JobStatus(JobState.RUNNING)
        threading.Thread(target=self._run, args=(name, request), name=f"job-{name}", daemon=True).start()
        return Submitted(name, created=True)

    def _run(self, name: str, request: JobRequest) -> None:
        try:
            run_request(self.settings, request)
            outcome = JobStatus(JobState.SUCCEEDED)
        except Exception as exc:  # the tracker reports it; the message can quote data, the type cannot
            log.exception("job %s failed", name)
            outcome = JobStatus(JobState.FAILED, type(exc).__name__)
        with self._lock:
            self._states[name] = outcome

    def status(self, name: str) -> JobStatus:
        with self._lock:
            return self._states.get(name, JobStatus(JobState.UNKNOWN))

    def unfinished(self) -> list[Unfinished]:
        # a thread's job ends with its process: a consumer started later has none to follow
        return []
