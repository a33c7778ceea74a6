"""Ingest's own lookups in the archive bucket: which image a content or a DICOM instance already is, and
what a received event came to, so that a re-sent file or a replayed event is answered without decoding::

    index/sha256/<sha256>.json          ContentPointer: DICOM content -> image id (a PNG or JPEG's id is
                                        derived from its content, so its record needs no index)
    index/sop/<sha256(SOP UID)>.json    ContentPointer: DICOM instance -> image id (hashed: UIDs stay out
                                        of key names)
    outcomes/<received event id>.json   the radiograph.duplicate or radiograph.rejected event of a received
                                        event, as published (its own event model; expires with the claim checks)
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from samx_core.archive.keys import json_name_under

OUTCOMES_PREFIX = "outcomes/"
CONTENT_INDEX_PREFIX = "index/sha256/"


class ContentPointer(BaseModel):
    """An index entry: the image whose record (``meta/<image_id>.json``) holds this content or instance."""

    model_config = ConfigDict(frozen=True)

    image_id: str = Field(min_length=1)


def content_index_key(sha256: str) -> str:
    return f"{CONTENT_INDEX_PREFIX}{sha256}.json"


def sop_index_key(sop_instance_uid: str) -> str:
    return f"index/sop/{hashlib.sha256(sop_instance_uid.strip().encode()).hexdigest()}.json"


def sha256_of_content_index_key(key: str) -> str | None:
    """The content digest a content-index key names, or None for any other key."""
    return json_name_under(key, CONTENT_INDEX_PREFIX)


def outcome_key(received_event_id: UUID | str) -> str:
    return f"{OUTCOMES_PREFIX}{received_event_id}.json"
