"""The launcher port: submit one training job by name, and ask how it is doing. Backends: the local
stack's Ray cluster (Ray Jobs API), KubeRay (a RayJob) and, with no Ray cluster configured, a thread
of the consumer's own process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from samx_core.events import ALL_EVENTS, Event

from samx_trainer.launch.names import JobRequest

_EVENT_TYPES = {t.__name__: t for t in ALL_EVENTS}


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
class Origin:
    """The event that asked for a job and its topic, stored with the job (Ray job metadata, RayJob
    annotations): a consumer started later (a restart, a new pod) finds the jobs still running and
    follows them to their end, and a failed one is dead-lettered with the event that can replay it.
    Events carry ids and references, never patient data."""

    topic: str  # as named on the broker
    event: Event

    def to_fields(self, prefix: str) -> dict[str, str]:
        return {
            f"{prefix}topic": self.topic,
            f"{prefix}event-type": type(self.event).__name__,
            f"{prefix}event": self.event.to_bytes().decode(),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], prefix: str) -> Origin | None:
        """The origin in a job's metadata; None for a job without one (submitted by hand, by an older
        launcher) or with an event this version cannot read."""
        event_type = _EVENT_TYPES.get(fields.get(f"{prefix}event-type", ""))
        topic, value = fields.get(f"{prefix}topic"), fields.get(f"{prefix}event")
        if event_type is None or not topic or not value:
            return None
        try:
            return cls(topic, event_type.from_bytes(value.encode()))
        except ValueError:  # pydantic's ValidationError is one
            return None


@dataclass(frozen=True)
class Unfinished:
    name: str
    origin: Origin


@dataclass(frozen=True)
class Submitted:
    name: str
    created: bool  # False: the job was there already (a redelivered or replayed event)


class Launcher(Protocol):
    backend: str

    def submit(self, request: JobRequest, origin: Origin | None = None) -> Submitted:
        """Create the job of ``request`` unless a job of that name exists (in any state); never two.
        ``origin`` is stored with the job (see ``unfinished``)."""
        ...

    def status(self, name: str) -> JobStatus: ...

    def unfinished(self) -> list[Unfinished]:
        """The jobs submitted with an origin that have not ended yet, whoever submitted them."""
        ...
