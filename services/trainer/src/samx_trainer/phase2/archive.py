"""Phase 2's reads from the archive bucket: a phase-1 run's assignments, image manifest and backbone, a
label set, and the training radiographs with the (pseudonymous) patient each belongs to.

The run's image manifest (``samx_core.archive.ImageManifest``) gives each radiograph's derivative and
patient group (a hash of the patient id; the id itself is never read here); a run that predates it falls
back to one ``meta/<id>.json`` record per radiograph, whose patient id is hashed the same way. Neither
form is logged."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import ValidationError
from samx_core.archive import (
    ImageManifest,
    ManifestImage,
    RadiographRecord,
    assignments_key,
    backbone_key,
    manifest_key,
    patient_group,
    radiograph_record_key,
    run_prefix,
)
from samx_core.events.base import ObjectRef
from samx_core.imaging import load_derivative, to_uint8_square
from samx_core.storage import ObjectMissingError, ObjectStore

from samx_trainer.common.progress import ProgressBar
from samx_trainer.phase2.data import LabelSet, Phase2DataError, parse_assignments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhaseOneRun:
    run_id: str
    assignments: dict[str, int]
    backbone_arch: str
    backbone_state: dict[str, torch.Tensor]
    manifest: dict[str, ManifestImage] | None = None  # image id -> entry; None for runs that predate it


def read_phase1_run(store: ObjectStore, bucket: str, prefix: str, run_id: str) -> PhaseOneRun:
    """``<prefix>/<run_id>/assignments.csv``, ``manifest.json`` (when the run has one) and ``backbone.pt``;
    a clear error when the assignments or the backbone are missing, or the manifest is malformed."""
    base = run_prefix(prefix, run_id)
    try:
        assignments = parse_assignments(store.get_bytes(bucket, assignments_key(base)))
    except ObjectMissingError:
        raise Phase2DataError(f"phase-1 run {run_id!r} has no assignments.csv under s3://{bucket}/{base}") from None
    try:
        blob = store.get_bytes(bucket, backbone_key(base))
    except ObjectMissingError:
        raise Phase2DataError(
            f"phase-1 run {run_id!r} has no backbone.pt (runs before phase 2 existed did not keep it); "
            "re-run phase 1 to get one"
        ) from None
    try:
        doc = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        arch, state = str(doc["arch"]), doc["state_dict"]
    except Exception as exc:  # a corrupt object is a data problem of this run, not a crash
        raise Phase2DataError(f"backbone.pt of run {run_id!r} is unreadable: {type(exc).__name__}") from exc
    return PhaseOneRun(run_id, assignments, arch, state, read_manifest(store, bucket, base, run_id))


def read_manifest(store: ObjectStore, bucket: str, base: str, run_id: str) -> dict[str, ManifestImage] | None:
    """The run's image manifest by image id; None when the run predates manifests."""
    try:
        manifest = ImageManifest.model_validate_json(store.get_bytes(bucket, manifest_key(base)))
    except ObjectMissingError:
        return None
    except ValidationError as exc:
        raise Phase2DataError(f"manifest.json of run {run_id!r} is malformed ({exc.error_count()} errors)") from None
    if manifest.run_id != run_id:
        raise Phase2DataError(f"manifest.json under run {run_id!r} belongs to run {manifest.run_id!r}")
    return manifest.by_id()


def read_labelset(store: ObjectStore, ref: ObjectRef | tuple[str, str]) -> LabelSet:
    bucket, key = (ref.bucket, ref.key) if isinstance(ref, ObjectRef) else ref
    try:
        return LabelSet.from_document(store.get_json(bucket, key))
    except ObjectMissingError:
        raise Phase2DataError(f"no label set at s3://{bucket}/{key}") from None
    except ValueError as exc:  # JSON syntax
        raise Phase2DataError(f"label set s3://{bucket}/{key} is not JSON: {exc}") from exc


@dataclass
class TrainingImages:
    image_ids: list[str]
    images: torch.Tensor  # (N, 1, S, S) uint8
    groups: list[str]  # patient hash or image id, per image
    skipped: dict[str, str]  # image id -> why


def load_training_images(
    store: ObjectStore,
    bucket: str,
    image_ids: list[str],
    size: int,
    *,
    threads: int = 8,
    trim_frame: bool = False,
    manifest: Mapping[str, ManifestImage] | None = None,
) -> TrainingImages:
    """The derivatives of ``image_ids`` at ``size`` px, order kept, found in the run's ``manifest`` (else
    in their ``meta/<id>.json`` records); unreadable ones are skipped and counted (a single bad object
    does not stop a run)."""
    bar = ProgressBar(len(image_ids), f"loading {len(image_ids)} radiographs")
    known = manifest or {}

    def locate(image_id: str) -> tuple[ObjectRef, str]:
        entry = known.get(image_id)
        if entry is not None:
            return entry.derivative, entry.patient_group
        record = RadiographRecord.model_validate_json(store.get_bytes(bucket, radiograph_record_key(image_id)))
        return record.derivative, patient_group(record)

    def one(image_id: str):
        try:
            derivative, group = locate(image_id)
            png = store.get_bytes(derivative.bucket, derivative.key)
            pixels = to_uint8_square(load_derivative(png), size, trim_frame=trim_frame)
            return image_id, pixels, group, None
        except Exception as exc:
            return image_id, None, None, type(exc).__name__

    ids, pixels, groups, skipped = [], [], [], {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for image_id, px, group, error in pool.map(one, image_ids):
            bar.advance()
            if px is None:
                skipped[image_id] = error or "unknown"
            else:
                ids.append(image_id)
                pixels.append(px)
                groups.append(group)
    bar.close()
    if skipped:
        log.warning("skipped %d unreadable radiographs of the training set", len(skipped))
    if not ids:
        raise Phase2DataError(f"none of the {len(image_ids)} radiographs of the label set could be read")
    return TrainingImages(ids, torch.from_numpy(np.stack(pixels))[:, None].contiguous(), groups, skipped)
