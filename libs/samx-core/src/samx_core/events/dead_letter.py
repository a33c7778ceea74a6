"""``samx.deadletter.v1``: a Kafka message that a consumer could not process at all (not a valid
event, or a handler bug). The message is kept whole, so it can be inspected and replayed."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from samx_core.events.base import Event


class DeadLetter(Event):
    TOPIC: ClassVar[str] = "samx.deadletter.v1"

    consumer_group: str
    original_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key: bytes | None = None
    value: bytes | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Trace context and the like, as text")
    reason: str = Field(max_length=64, description="invalid_event, handler_error, ...")
    error_type: str = Field(max_length=200)
    detail: str = Field(max_length=2000, description="Never contains patient data")
