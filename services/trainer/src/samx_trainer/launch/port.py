"""The launcher port: submit one training job by name, and ask how it is doing. Backends: the local
stack's Ray cluster (Ray Jobs API), KubeRay (a RayJob) and, with no Ray cluster configured, a thread
of the consumer's own process."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from samx_trainer.launch.names import JobRequest


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    UNKNOWN = "unknown"  # not known to this backend (a dry run, a job deleted after its TTL)

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.STOPPED)


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    #: why it failed, as a type or code (never the job's message or logs: they can quote data)
    reason_type: str | None = None


@dataclass(frozen=True)
class Submitted:
    name: str
    created: bool  # False: the job was there already (a redelivered or replayed event)


class Launcher(Protocol):
    backend: str

    def submit(self, request: JobRequest) -> Submitted:
        """Create the job of ``request`` unless a job of that name exists (in any state); never two."""
        ...

    def status(self, name: str) -> JobStatus: ...
