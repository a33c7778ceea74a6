"""The image manifest of a phase-1 run: what every later step needs of each radiograph it clustered,
written once by phase 1 (which read every archive record anyway) to ``<run prefix>/manifest.json``.

Labeling (thumbnails, tags for the viewer), phase 2 (derivatives, patient groups for the splits) and
exports read it instead of fetching every ``meta/<id>.json`` record again. It holds no patient
identifier: the patient appears only as ``patient_group``, a truncated SHA-256 of the (pseudonymous)
patient id (or the image itself when there is none), which groups a patient's radiographs and says
nothing else. A run that predates the manifest has none; readers then fall back to the records.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from samx_core.archive.phase1_run import IMAGE_ID, RUN_ID
from samx_core.archive.radiograph import RadiographRecord
from samx_core.events.base import ObjectRef
from samx_core.radiograph import RadiographTags


def manifest_key(artifacts_prefix: str) -> str:
    return artifacts_prefix.rstrip("/") + "/manifest.json"


def patient_group(record: RadiographRecord) -> str:
    """Group key for patient-grouped splits: ``p:`` + a hash of the patient id, else ``i:`` + the image."""
    pid = (record.tags.patient_id or "").strip()
    return "p:" + hashlib.sha256(pid.encode()).hexdigest()[:16] if pid else "i:" + record.image_id


def short_body_part(tags: RadiographTags) -> str | None:
    """BodyPartExamined as the header says, trimmed to the 64 characters payloads keep (None when empty)."""
    return (tags.body_part_examined or "").strip()[:64] or None


class ManifestImage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    image_id: str = Field(pattern=IMAGE_ID)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file as received")
    derivative: ObjectRef = Field(description="Normalized single-channel PNG")
    thumbnail: ObjectRef = Field(description="8-bit thumbnail PNG")
    patient_group: str = Field(pattern=r"^(p:[0-9a-f]{16}|i:.+)$", description="Hashed patient, or the image")
    site_id: str | None = Field(default=None, description="Sending hospital or modality, as configured")
    source_format: str | None = None
    body_part: str | None = Field(default=None, max_length=64, description="BodyPartExamined, as the header says")
    modality: str | None = None
    view_position: str | None = None
    image_laterality: str | None = None
    rows: int | None = Field(default=None, ge=1)
    columns: int | None = Field(default=None, ge=1)

    @classmethod
    def from_record(cls, record: RadiographRecord) -> ManifestImage:
        t = record.tags
        body_part = short_body_part(t)
        return cls(
            image_id=record.image_id,
            sha256=record.sha256,
            derivative=record.derivative,
            thumbnail=record.thumbnail,
            patient_group=patient_group(record),
            site_id=record.site_id,
            source_format=record.source_format.value,
            body_part=body_part,
            modality=t.modality,
            view_position=t.view_position,
            image_laterality=t.image_laterality,
            rows=t.rows,
            columns=t.columns,
        )


class ImageManifest(BaseModel):
    """``manifest.json``: the run's radiographs, in the run's order (that of ``image_ids.json``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str = Field(pattern=RUN_ID)
    images: list[ManifestImage]

    def by_id(self) -> dict[str, ManifestImage]:
        return {image.image_id: image for image in self.images}
