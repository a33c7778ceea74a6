"""``samx.radiograph.ingested.v1``: a radiograph is stored, decoded and ready for the model."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from samx_core.events.base import Event, ObjectRef
from samx_core.radiograph import RadiographTags, SourceFormat


class RadiographIngested(Event):
    TOPIC: ClassVar[str] = "samx.radiograph.ingested.v1"

    image_id: str = Field(pattern=r"^img-[0-9a-f]{32}$", description="Stable id: same radiograph, same id")
    received_event_id: UUID
    site_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    source_format: SourceFormat
    tags: RadiographTags
    raw: ObjectRef = Field(description="The original file, byte for byte")
    derivative: ObjectRef = Field(description="Normalized single-channel PNG (16-bit where the source has it)")
    thumbnail: ObjectRef = Field(description="8-bit PNG, longest side 256 px")
    metadata: ObjectRef = Field(description="JSON record of this radiograph")
    derivative_bits: int = Field(description="8 or 16")
