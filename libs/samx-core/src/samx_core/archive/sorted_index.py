"""The sorted index: which archived radiograph is which region, per model version (the product's output).

The streaming sort and the reclassification job (services/serving) write it into the archive bucket;
the serving API's browse routes, ``samx-serving export`` and a hospital's own readers read it::

    index/classified/<model_version>/images/<image_id>.json                 SortedIndexRecord
    index/classified/<model_version>/labels/<top-1 label>/<image_id>.json   the same record, by class
    index/classified/<model_version>/_job.json                              SortedIndexJob

One JSON object per image and version: a re-delivery or a re-run overwrites it with the same content, so
writers are idempotent. Listing by prefix is the query (``labels/knee/`` lists the knees of a version
without scanning the others). Every key part is checked here, so no version, image id or label can reach
outside its folder.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field

from samx_core.archive.keys import json_name_under
from samx_core.events.radiograph_classified import ClassificationFlags, ScoredLabel

SORTED_INDEX_PREFIX = "index/classified/"
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SortedIndexRecord(BaseModel):
    """``images/<image_id>.json`` (and its copy under ``labels/<label>/``): one radiograph's sort."""

    model_config = ConfigDict(frozen=True)

    image_id: str
    model_version: str
    label: str = Field(description="Top-1 label")
    probability: float
    top: list[ScoredLabel]
    flags: ClassificationFlags
    site_id: str | None = None
    source_format: str | None = None
    classified_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class SortedIndexJob(BaseModel):
    """``_job.json``: how far the reclassification of the archive with one model version got."""

    model_version: str
    state: str = Field(description="running | done")
    total: int
    done: int
    failed: int = 0
    started_at: datetime
    updated_at: datetime


def _safe(part: str) -> str:
    if not _SAFE_PART.match(part):
        raise ValueError(f"{part!r} cannot be part of an index key")
    return part


def sorted_index_label_part(label: str) -> str:
    """Labels are free names from the labeling vocabulary ('thoracic spine', 'knee (lateral)', 'a/p'):
    percent-encoded into one key segment, so no name can reach outside its folder ("." and ".." too, which
    percent-encoding leaves as they are)."""
    if not label or len(label) > 64:
        raise ValueError("a label is 1 to 64 characters")
    part = quote(label, safe="")
    return part.replace(".", "%2E") if part in (".", "..") else part


def sorted_index_root(model_version: str) -> str:
    return f"{SORTED_INDEX_PREFIX}{_safe(model_version)}/"


def sorted_index_images_prefix(model_version: str) -> str:
    return f"{sorted_index_root(model_version)}images/"


def sorted_index_labels_prefix(model_version: str) -> str:
    return f"{sorted_index_root(model_version)}labels/"


def sorted_index_record_key(model_version: str, image_id: str) -> str:
    return f"{sorted_index_images_prefix(model_version)}{_safe(image_id)}.json"


def sorted_index_label_prefix(model_version: str, label: str) -> str:
    return f"{sorted_index_labels_prefix(model_version)}{sorted_index_label_part(label)}/"


def sorted_index_label_key(model_version: str, label: str, image_id: str) -> str:
    return f"{sorted_index_label_prefix(model_version, label)}{_safe(image_id)}.json"


def sorted_index_job_key(model_version: str) -> str:
    return f"{sorted_index_root(model_version)}_job.json"


def image_id_of_sorted_key(key: str, model_version: str) -> str | None:
    """The image id an ``images/`` key of the version names, or None for any other key."""
    image_id = json_name_under(key, sorted_index_images_prefix(model_version))
    return image_id if image_id is not None and _SAFE_PART.match(image_id) else None


def label_of_sorted_key(key: str, model_version: str) -> str | None:
    """The (decoded) label a ``labels/`` key of the version is filed under, or None for any other key."""
    prefix = sorted_index_labels_prefix(model_version)
    if not key.startswith(prefix) or "/" not in key[len(prefix) :]:
        return None
    return unquote(key[len(prefix) :].split("/", 1)[0])
