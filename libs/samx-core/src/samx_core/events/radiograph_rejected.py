"""``samx.radiograph.rejected.v1``: an input that did not become a radiograph, with the reason. The
original is kept under ``quarantine/`` so that nothing a hospital sent is ever lost."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from samx_core.events.base import Event, ObjectRef
from samx_core.radiograph import RejectReason


class RadiographRejected(Event):
    TOPIC: ClassVar[str] = "samx.radiograph.rejected.v1"

    received_event_id: UUID
    site_id: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    reason: RejectReason
    detail: str = Field(max_length=500, description="Human-readable; never contains patient data")
    quarantine: ObjectRef | None = Field(default=None, description="The original, kept for review")
