"""Reading a phase-1 run's artifacts and what the archive knows of its radiographs from the object store.

Every payload has its model and key in ``samx_core.archive``: ``clusters.json`` (``ClustersDocument``),
``assignments.csv`` (``AssignmentRow``), the run's image manifest (``ImageManifest``, written once by
phase 1: thumbnail, derivative, body part and viewer tags of each radiograph) and, for runs that predate
the manifest, the archive's ``meta/<image_id>.json`` records (``RadiographRecord``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import ValidationError
from samx_core.archive import (
    AssignmentsError,
    ClustersDocument,
    ImageManifest,
    ManifestImage,
    RadiographRecord,
    manifest_key,
    radiograph_record_key,
    read_assignments,
    thumbnail_key,
)
from samx_core.events import ClusteringCompleted
from samx_core.storage import ObjectMissingError, ObjectStore

from samx_labeling.domain.errors import InvalidInputError
from samx_labeling.domain.ports import Assignment, ClusterSummary, ImageRecord

_RunPayload = TypeVar("_RunPayload", ClustersDocument, ImageManifest)


class ObjectStorePhase1Artifacts:
    def __init__(self, store: ObjectStore, event: ClusteringCompleted, *, max_workers: int = 8) -> None:
        self._store = store
        self._event = event
        self._max_workers = max_workers

    def clusters(self) -> list[ClusterSummary]:
        ref = self._event.clusters
        document = self._read_payload(ref.bucket, ref.key, ClustersDocument, "clusters.json")
        if document is None:
            raise InvalidInputError("clusters.json of the run is missing")
        return [ClusterSummary(c.cluster, c.size, c.mean_confidence, c.exemplars) for c in document.clusters]

    def assignments(self) -> list[Assignment]:
        ref = self._event.assignments
        try:
            rows = read_assignments(self._store.get_bytes(ref.bucket, ref.key))
        except ObjectMissingError:
            raise InvalidInputError("assignments.csv of the run is missing") from None
        except AssignmentsError as exc:
            raise InvalidInputError(str(exc)) from None
        return [Assignment(r.image_id, r.cluster, r.confidence) for r in rows]

    def image_records(self, image_ids: list[str]) -> dict[str, ImageRecord]:
        manifest = self._manifest()
        missing = [i for i in image_ids if i not in manifest]
        # A run that predates the manifest: one GET per radiograph, in parallel (a run holds thousands).
        with ThreadPoolExecutor(max_workers=self._max_workers) as pool:
            fallback = dict(zip(missing, pool.map(self._record, missing), strict=True))
        return {i: _from_manifest(manifest[i]) if i in manifest else fallback[i] for i in image_ids}

    def _manifest(self) -> dict[str, ManifestImage]:
        bucket, key = self._event.assignments.bucket, manifest_key(self._event.artifacts_prefix)
        manifest = self._read_payload(bucket, key, ImageManifest, "manifest.json")
        return manifest.by_id() if manifest is not None else {}  # none: a run from before the manifest

    def _read_payload(self, bucket: str, key: str, model: type[_RunPayload], name: str) -> _RunPayload | None:
        """One of the run's JSON payloads, None when missing; refused when misshapen or of another run."""
        try:
            payload = model.model_validate_json(self._store.get_bytes(bucket, key))
        except ObjectMissingError:
            return None
        except ValidationError as exc:
            raise InvalidInputError(f"{name} does not have the expected shape ({exc.error_count()} errors)") from None
        if payload.run_id != self._event.run_id:
            raise InvalidInputError(f"{name} belongs to another run")
        return payload

    def _record(self, image_id: str) -> ImageRecord:
        bucket = self._event.assignments.bucket
        try:
            record = RadiographRecord.model_validate_json(
                self._store.get_bytes(bucket, radiograph_record_key(image_id))
            )
        except (ObjectMissingError, ValidationError):  # costs this image its tags, not the run its session
            return ImageRecord(sha256=None, body_part=None, thumbnail_key=thumbnail_key(image_id))
        return _from_manifest(ManifestImage.from_record(record))


def _from_manifest(entry: ManifestImage) -> ImageRecord:
    return ImageRecord(
        sha256=entry.sha256,
        body_part=entry.body_part,
        thumbnail_key=entry.thumbnail.key,
        derivative_key=entry.derivative.key,
        facts=viewer_facts(entry),
    )


def viewer_facts(entry: ManifestImage) -> dict:
    """The tags a radiologist checks an image against; identifiers (patient, study, UIDs) stay out."""
    facts: dict = {key: getattr(entry, key) for key in _VIEWER_TAGS if getattr(entry, key) not in (None, "")}
    if entry.site_id:
        facts["site"] = entry.site_id
    return {k: v[:64] if isinstance(v, str) else v for k, v in facts.items()}


_VIEWER_TAGS = ("modality", "view_position", "image_laterality", "rows", "columns")
