"""``samx.radiograph.received.v1``: a hospital (or the C-STORE receiver) hands SAM-X one file."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from samx_core.events.base import Event, ObjectRef

#: Larger files must go through the incoming bucket (claim check); Kafka is not a file transport.
MAX_INLINE_BYTES = 512 * 1024


class RadiographReceived(Event):
    TOPIC: ClassVar[str] = "samx.radiograph.received.v1"

    site_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Sending hospital or modality, as configured; not patient data",
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file as sent")
    size_bytes: int = Field(ge=0)
    object: ObjectRef | None = Field(default=None, description="Claim check: the file in the incoming bucket")
    inline_data: bytes | None = Field(default=None, description=f"Small files only (<= {MAX_INLINE_BYTES} B)")
    content_type: str | None = Field(default=None, description="Sender's hint; ingest sniffs the bytes anyway")
    sent_by: str = Field(default="unknown", max_length=64, description="samx-send, cstore, ...")

    @model_validator(mode="after")
    def _exactly_one_payload(self) -> RadiographReceived:
        if (self.object is None) == (self.inline_data is None):
            raise ValueError("exactly one of 'object' (claim check) or 'inline_data' is required")
        if self.inline_data is not None and len(self.inline_data) > MAX_INLINE_BYTES:
            raise ValueError(f"inline_data is larger than {MAX_INLINE_BYTES} bytes; use the incoming bucket")
        return self
