"""Phase 2's reads from the archive bucket: a phase-1 run's assignments and backbone, a label set, and
the training radiographs with the (pseudonymous) patient each belongs to.

The patient id from the ingest record is hashed here and only the hash travels on (it keys the
cross-validation groups); neither form is logged."""

from __future__ import annotations

import hashlib
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from samx_core.events import RadiographIngested
from samx_core.events.base import ObjectRef
from samx_core.imaging import load_derivative, to_uint8_square
from samx_core.storage import ObjectMissingError, ObjectStore

from samx_trainer.phase2_data import LabelSet, Phase2DataError, parse_assignments
from samx_trainer.progress import ProgressBar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhaseOneRun:
    run_id: str
    assignments: dict[str, int]
    backbone_arch: str
    backbone_state: dict[str, torch.Tensor]


def read_phase1_run(store: ObjectStore, bucket: str, prefix: str, run_id: str) -> PhaseOneRun:
    """``<prefix>/<run_id>/assignments.csv`` and ``backbone.pt``; a clear error when either is missing."""
    base = f"{prefix.strip('/')}/{run_id}/"
    try:
        assignments = parse_assignments(store.get_bytes(bucket, base + "assignments.csv"))
    except ObjectMissingError:
        raise Phase2DataError(f"phase-1 run {run_id!r} has no assignments.csv under s3://{bucket}/{base}") from None
    try:
        blob = store.get_bytes(bucket, base + "backbone.pt")
    except ObjectMissingError:
        raise Phase2DataError(
            f"phase-1 run {run_id!r} has no backbone.pt (runs before phase 2 existed did not keep it); "
            "re-run phase 1 to get one"
        ) from None
    try:
        doc = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        return PhaseOneRun(run_id, assignments, str(doc["arch"]), doc["state_dict"])
    except Exception as exc:  # a corrupt object is a data problem of this run, not a crash
        raise Phase2DataError(f"backbone.pt of run {run_id!r} is unreadable: {type(exc).__name__}") from exc


def read_labelset(store: ObjectStore, ref: ObjectRef | tuple[str, str]) -> LabelSet:
    bucket, key = (ref.bucket, ref.key) if isinstance(ref, ObjectRef) else ref
    try:
        return LabelSet.from_document(store.get_json(bucket, key))
    except ObjectMissingError:
        raise Phase2DataError(f"no label set at s3://{bucket}/{key}") from None
    except ValueError as exc:  # JSON syntax
        raise Phase2DataError(f"label set s3://{bucket}/{key} is not JSON: {exc}") from exc


def patient_group(record: RadiographIngested) -> str:
    """Group key for the splits: a hash of the pseudonymous patient id, else the image itself."""
    pid = (record.tags.patient_id or "").strip()
    return "p:" + hashlib.sha256(pid.encode()).hexdigest()[:16] if pid else "i:" + record.image_id


@dataclass
class TrainingImages:
    image_ids: list[str]
    images: torch.Tensor  # (N, 1, S, S) uint8
    groups: list[str]  # patient hash or image id, per image
    skipped: dict[str, str]  # image id -> why


def load_training_images(
    store: ObjectStore, bucket: str, image_ids: list[str], size: int, *, threads: int = 8, trim_frame: bool = False
) -> TrainingImages:
    """The derivatives of ``image_ids`` (their ``meta/<id>.json`` records) at ``size`` px, order kept;
    unreadable ones are skipped and counted (a single bad object does not stop a run)."""
    bar = ProgressBar(len(image_ids), f"loading {len(image_ids)} radiographs")

    def one(image_id: str):
        try:
            record = RadiographIngested.model_validate_json(store.get_bytes(bucket, f"meta/{image_id}.json"))
            png = store.get_bytes(record.derivative.bucket, record.derivative.key)
            pixels = to_uint8_square(load_derivative(png), size, trim_frame=trim_frame)
            return image_id, pixels, patient_group(record), None
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
