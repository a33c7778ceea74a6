"""Reading a phase-1 run's artifacts and the archive records of its radiographs from the object store.

Artifact layout: services/trainer (``artifacts.py``): ``clusters.json`` {run_id, k, clusters: [{cluster,
size, mean_confidence, exemplars, least_confident}]}, ``assignments.csv`` (image_id, cluster, confidence,
second). Archive layout: services/ingest (``archive.py``): ``meta/<image_id>.json`` is the ingested event,
with the thumbnail reference and the DICOM tags."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from samx_core.events import ClusteringCompleted
from samx_core.storage import ObjectMissingError, ObjectStore

from samx_labeling.domain.errors import InvalidInputError
from samx_labeling.domain.ports import Assignment, ClusterSummary, ImageRecord

IMAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _ClusterEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cluster: int = Field(ge=0)
    size: int = Field(ge=0)
    mean_confidence: float | None = None
    exemplars: list[str] = Field(default_factory=list)


class _ClustersDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    k: int = Field(ge=1)
    clusters: list[_ClusterEntry]


class _AssignmentRow(BaseModel):
    image_id: str = Field(pattern=IMAGE_ID)
    cluster: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)


class ObjectStorePhase1Artifacts:
    def __init__(self, store: ObjectStore, event: ClusteringCompleted, *, max_workers: int = 8) -> None:
        self._store = store
        self._event = event
        self._max_workers = max_workers

    def clusters(self) -> list[ClusterSummary]:
        ref = self._event.clusters
        try:
            document = _ClustersDocument.model_validate_json(self._store.get_bytes(ref.bucket, ref.key))
        except ObjectMissingError:
            raise InvalidInputError("clusters.json of the run is missing") from None
        except ValidationError as exc:
            raise InvalidInputError(
                f"clusters.json does not have the expected shape ({exc.error_count()} errors)"
            ) from None
        if document.run_id != self._event.run_id:
            raise InvalidInputError("clusters.json belongs to another run")
        return [ClusterSummary(c.cluster, c.size, c.mean_confidence, c.exemplars) for c in document.clusters]

    def assignments(self) -> list[Assignment]:
        ref = self._event.assignments
        try:
            text = self._store.get_bytes(ref.bucket, ref.key).decode("utf-8")
        except ObjectMissingError:
            raise InvalidInputError("assignments.csv of the run is missing") from None
        except UnicodeDecodeError:
            raise InvalidInputError("assignments.csv is not UTF-8") from None
        out = []
        for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            try:
                parsed = _AssignmentRow.model_validate(row)
            except ValidationError:
                raise InvalidInputError(f"assignments.csv line {line} is malformed") from None
            out.append(Assignment(parsed.image_id, parsed.cluster, parsed.confidence))
        return out

    def image_records(self, image_ids: list[str]) -> dict[str, ImageRecord]:
        # One GET per radiograph; in parallel, since each is a round trip and a run holds thousands.
        with ThreadPoolExecutor(max_workers=self._max_workers) as pool:
            return dict(zip(image_ids, pool.map(self._record, image_ids), strict=True))

    def _record(self, image_id: str) -> ImageRecord:
        bucket = self._event.assignments.bucket
        fallback = f"derived/{image_id}.thumb.png"
        try:
            meta = self._store.get_json_or_none(bucket, f"meta/{image_id}.json")
        except ValueError:  # an unreadable record costs this image its tags, not the run its session
            meta = None
        if not isinstance(meta, dict):
            return ImageRecord(sha256=None, body_part=None, thumbnail_key=fallback)
        tags, thumbnail, derivative = (_object(meta, field) for field in ("tags", "thumbnail", "derivative"))
        body_part, sha256 = tags.get("body_part_examined"), meta.get("sha256")
        thumbnail_key, derivative_key = thumbnail.get("key"), derivative.get("key")
        return ImageRecord(
            sha256=sha256 if isinstance(sha256, str) and len(sha256) == 64 else None,
            body_part=body_part[:64] if isinstance(body_part, str) and body_part.strip() else None,
            thumbnail_key=thumbnail_key if isinstance(thumbnail_key, str) else fallback,
            derivative_key=derivative_key if isinstance(derivative_key, str) else None,
            facts=viewer_facts(tags, meta.get("site_id")),
        )


def _object(record: dict, field: str) -> dict:
    """A nested JSON object of the record, or {} when it is missing or not an object."""
    value = record.get(field)
    return value if isinstance(value, dict) else {}


def viewer_facts(tags: dict, site_id: object) -> dict:
    """The tags a radiologist checks an image against; identifiers (patient, study, UIDs) stay out."""
    facts = {key: tags[key] for key in _VIEWER_TAGS if isinstance(tags.get(key), str | int) and tags[key] != ""}
    if isinstance(site_id, str) and site_id:
        facts["site"] = site_id[:64]
    return {k: v[:64] if isinstance(v, str) else v for k, v in facts.items()}


_VIEWER_TAGS = ("modality", "view_position", "image_laterality", "rows", "columns")
