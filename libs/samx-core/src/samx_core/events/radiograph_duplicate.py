"""``samx.radiograph.duplicate.v1``: a radiograph that SAM-X already has arrived again (same SOP
Instance UID or same bytes). Nothing new is stored; this event lets a hospital see re-sends."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from samx_core.events.base import Event


class RadiographDuplicate(Event):
    TOPIC: ClassVar[str] = "samx.radiograph.duplicate.v1"

    received_event_id: UUID
    site_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    image_id: str = Field(pattern=r"^img-[0-9a-f]{32}$", description="The record it duplicates")
    matched_on: Literal["sop_instance_uid", "content"]
