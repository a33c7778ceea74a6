"""The envelope every SAM-X event shares.

One frozen pydantic model per topic; topic names end in ``.v<n>`` and a breaking change makes a new
topic, so the ``schema_version`` of a topic's events never changes. Additive fields are tolerated on
read (``extra="ignore"``) so that an older consumer keeps working while producers roll forward.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    # Bytes travel as base64 in JSON and are plain bytes in Python.
    model_config = ConfigDict(frozen=True, extra="ignore", ser_json_bytes="base64", val_json_bytes="base64")

    TOPIC: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4, description="Unique per event; consumers dedupe on it")
    occurred_at: AwareDatetime = Field(default_factory=_now, description="When the fact happened (UTC)")
    schema_version: Literal[1] = 1

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, payload: bytes) -> Event:
        return cls.model_validate_json(payload)


class ObjectRef(BaseModel):
    """Where an object lives in the object store; events carry references, not pixels (claim check)."""

    model_config = ConfigDict(frozen=True)

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    size_bytes: int | None = Field(default=None, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    content_type: str | None = None
