"""The sorted index: which archived radiograph is which region, per model version, in the archive bucket.

Layout (one JSON object per image and version; a re-delivery or a re-run overwrites it with the same
content, so writers are idempotent)::

    index/classified/<model_version>/images/<image_id>.json          the record
    index/classified/<model_version>/labels/<top-1 label>/<image_id>.json   the same record, by class
    index/classified/<model_version>/_job.json                      reclassification progress

Object listing by prefix is the query: ``labels/knee/`` lists the knees of a version without scanning
the others. Objects rather than a database because the archive is already the system of record, every
service can read it, and the index of a version never changes once that version is retired.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field
from samx_core.events import ClassificationFlags, ScoredLabel
from samx_core.storage import ObjectStore

PREFIX = "index/classified/"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class IndexRecord(BaseModel):
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


class JobProgress(BaseModel):
    model_version: str
    state: str = Field(description="running | done")
    total: int
    done: int
    failed: int = 0
    started_at: datetime
    updated_at: datetime


def _safe(part: str) -> str:
    if not _SAFE.match(part):
        raise ValueError(f"{part!r} cannot be part of an index key")
    return part


def _label_part(label: str) -> str:
    """Labels are free names from the labeling vocabulary ('thoracic spine', 'knee (lateral)', 'a/p'):
    percent-encoded into one key segment, so no name can reach outside its folder."""
    if not label or len(label) > 64:
        raise ValueError("a label is 1 to 64 characters")
    return quote(label, safe="")


class SortedIndex:
    def __init__(self, store: ObjectStore, bucket: str, *, read_threads: int = 8) -> None:
        self._store, self._bucket, self._threads = store, bucket, read_threads

    def _root(self, version: str) -> str:
        return f"{PREFIX}{_safe(version)}/"

    def put(self, record: IndexRecord) -> None:
        root = self._root(record.model_version)
        doc = record.model_dump(mode="json")
        self._store.put_json(self._bucket, f"{root}labels/{_label_part(record.label)}/{record.image_id}.json", doc)
        self._store.put_json(self._bucket, f"{root}images/{record.image_id}.json", doc)  # last: marks it done

    def get(self, version: str, image_id: str) -> IndexRecord | None:
        doc = self._store.get_json_or_none(self._bucket, f"{self._root(version)}images/{_safe(image_id)}.json")
        return None if doc is None else IndexRecord.model_validate(doc)

    def indexed_ids(self, version: str) -> set[str]:
        prefix = f"{self._root(version)}images/"
        return {k[len(prefix) : -len(".json")] for k in self._store.list_keys(self._bucket, prefix)}

    def by_label(self, version: str, label: str, *, offset: int = 0, limit: int = 100) -> tuple[int, list[IndexRecord]]:
        """(total, records[offset:offset+limit]) of one top-1 label, in image id order."""
        keys = sorted(self._store.list_keys(self._bucket, f"{self._root(version)}labels/{_label_part(label)}/"))
        return len(keys), self._read(keys[offset : offset + limit])

    def all(self, version: str) -> list[IndexRecord]:
        return self._read(sorted(self._store.list_keys(self._bucket, f"{self._root(version)}images/")))

    def counts(self, version: str) -> dict[str, int]:
        prefix = f"{self._root(version)}labels/"
        counts: dict[str, int] = {}
        for key in self._store.list_keys(self._bucket, prefix):
            label = unquote(key[len(prefix) :].split("/", 1)[0])
            counts[label] = counts.get(label, 0) + 1
        return dict(sorted(counts.items()))

    def put_progress(self, progress: JobProgress) -> None:
        self._store.put_json(
            self._bucket, f"{self._root(progress.model_version)}_job.json", progress.model_dump(mode="json")
        )

    def progress(self, version: str) -> JobProgress | None:
        doc = self._store.get_json_or_none(self._bucket, f"{self._root(version)}_job.json")
        return None if doc is None else JobProgress.model_validate(doc)

    def _read(self, keys: list[str]) -> list[IndexRecord]:
        with ThreadPoolExecutor(self._threads) as pool:
            docs = list(pool.map(lambda k: self._store.get_json(self._bucket, k), keys))
        return [IndexRecord.model_validate(d) for d in docs]
