"""The quarantine record: why an input was rejected, and which input it was, without saying who it shows.

Written by ingest to ``quarantine/<received event id>.json`` in the archive bucket, next to the rejected
bytes (``quarantine/<received event id>.bin``); both expire after the retention setting. An operator (or
a hospital's own tooling) finds the record of a file it sent from what the sending side knows: the
received event id, the SHA-256 and size of the bytes, the claim-check key in the incoming bucket. None of
these is patient data: the event id and the key are random or made from the site and day, never from a
file name, and a hash does not reveal the bytes. The detail is the rejection's, which never carries
header values.

Additive fields are ignored on read, as for events, so an older reader keeps working.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from samx_core.events.base import ObjectRef
from samx_core.radiograph import RejectReason

QUARANTINE_PREFIX = "quarantine/"


def quarantine_record_key(received_event_id: UUID | str) -> str:
    """Object key of the quarantine record of one received event in the archive bucket."""
    return f"{QUARANTINE_PREFIX}{UUID(str(received_event_id))}.json"


def quarantine_original_key(received_event_id: UUID | str) -> str:
    """Object key of the rejected bytes themselves, as sent."""
    return f"{QUARANTINE_PREFIX}{UUID(str(received_event_id))}.bin"


class QuarantineRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    reason: RejectReason
    detail: str = Field(max_length=500, description="Human-readable; never contains patient data")
    rejected_at: AwareDatetime
    # -- the input, by reference ---------------------------------------------------------------------
    received_event_id: UUID = Field(description="The samx.radiograph.received.v1 event that brought it")
    received_at: AwareDatetime = Field(description="When it was sent (the received event's occurred_at)")
    site_id: str = Field(description="Sending hospital or modality, as configured; not patient data")
    sent_by: str = Field(description="The sending tool: samx-send, cstore, ...")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file as sent")
    size_bytes: int = Field(ge=0, description="Size of the file as sent")
    content_type: str | None = Field(default=None, description="The sender's hint, if it gave one")
    claim_check: ObjectRef | None = Field(
        default=None, description="Where the file was in the incoming bucket (released since); null when inline"
    )
    original: ObjectRef | None = Field(default=None, description="The rejected bytes, kept beside this record")
