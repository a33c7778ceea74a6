"""The archive record of one radiograph, and where ingest keeps its objects.

Ingest writes, per radiograph, to the archive bucket (services/ingest ``archive.py``)::

    raw/<image_id>.<ext>          the original, byte for byte
    derived/<image_id>.png        normalized single-channel PNG (8 or 16 bit)
    derived/<image_id>.thumb.png  8-bit thumbnail
    meta/<image_id>.json          this record

The record is the ``radiograph.ingested`` event itself, as JSON, so that a replay can re-publish it
without decoding again; ``RadiographRecord`` is that event's model under the payload's name (same fields,
additive fields ignored on read). The record carries the stored file's header identifiers (pseudonyms by
default): read it where a radiograph's own tags are needed, and the run's image manifest
(``samx_core.archive.manifest``) where a whole run's radiographs are.
"""

from __future__ import annotations

from samx_core.archive.keys import json_name_under
from samx_core.events.base import ObjectRef
from samx_core.events.radiograph_ingested import RadiographIngested

RADIOGRAPH_RECORD_PREFIX = "meta/"


class RadiographRecord(RadiographIngested):
    """``meta/<image_id>.json``: the ``radiograph.ingested`` event of the radiograph, as stored."""


def radiograph_record_key(image_id: str) -> str:
    """Object key of a radiograph's record in the archive bucket."""
    return f"{RADIOGRAPH_RECORD_PREFIX}{image_id}.json"


def image_id_of_record_key(key: str) -> str | None:
    """The image id a record key names, or None for any other key (a listing may hold strays)."""
    return json_name_under(key, RADIOGRAPH_RECORD_PREFIX)


def radiograph_record_ref(bucket: str, image_id: str) -> ObjectRef:
    return ObjectRef(bucket=bucket, key=radiograph_record_key(image_id), content_type="application/json")


def raw_key(image_id: str, ext: str) -> str:
    return f"raw/{image_id}.{ext}"


def derivative_key(image_id: str) -> str:
    return f"derived/{image_id}.png"


def thumbnail_key(image_id: str) -> str:
    return f"derived/{image_id}.thumb.png"
