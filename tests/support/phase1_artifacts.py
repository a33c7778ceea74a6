"""A phase-1 run in MinIO built from real radiographs, without running phase 1: what phase 2 reads.

Per radiograph the ingest-like objects (``derived/<id>.png`` via the ingest's own decoder and
derivative encoder, ``meta/<id>.json`` as a ``RadiographIngested`` record carrying the pseudonymous
patient id), then the run's ``assignments.csv`` (the caller says which cluster each radiograph is in)
and a ``backbone.pt``: the shipped ``samx-rad-v1`` as phase 1 starts from it (not adapted), or a seeded,
untrained one where a test needs phase 2 to run long rather than learn fast.
Every payload through its ``samx_core.archive`` model and key, as the services write them."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import torch
from samx_core.archive import (
    AssignmentRow,
    ImageManifest,
    ManifestImage,
    RadiographRecord,
    assignments_key,
    backbone_key,
    derivative_key,
    manifest_key,
    radiograph_record_key,
    radiograph_record_ref,
    run_prefix,
    write_assignments,
)
from samx_core.ids import image_id_for
from samx_core.imaging import decode_radiograph, encode_derivative_png
from samx_core.radiograph import RadiographTags
from samx_core.storage import ObjectStore
from samx_ml.backbone import Backbone
from samx_ml.pretrained import resolve_init, shipped_model
from samx_trainer.phase1.artifacts import backbone_bytes


@dataclass(frozen=True)
class Radiograph:
    data: bytes  # the file as a hospital sends it (PNG here)
    patient_id: str  # pseudonymous
    cluster: int


def image_id_of(data: bytes) -> str:
    return image_id_for(sop_instance_uid=None, content_sha256=hashlib.sha256(data).hexdigest())


def put_radiograph(store: ObjectStore, bucket: str, r: Radiograph) -> str:
    return put_radiograph_record(store, bucket, r).image_id


def put_radiograph_record(store: ObjectStore, bucket: str, r: Radiograph) -> RadiographRecord:
    image_id = image_id_of(r.data)
    decoded = decode_radiograph(r.data)
    derived = store.put_bytes(
        bucket, derivative_key(image_id), encode_derivative_png(decoded), content_type="image/png"
    )
    ref = derived.ref()
    record = RadiographRecord(
        image_id=image_id,
        received_event_id=uuid.uuid4(),
        site_id="test-site",
        sha256=hashlib.sha256(r.data).hexdigest(),
        source_format=decoded.source_format,
        tags=RadiographTags(
            rows=decoded.pixels.shape[0],
            columns=decoded.pixels.shape[1],
            bits_stored=decoded.bits,
            patient_id=r.patient_id,
        ),
        raw=ref,
        derivative=ref,
        thumbnail=ref,
        metadata=radiograph_record_ref(bucket, image_id),
        derivative_bits=decoded.bits,
    )
    store.put_bytes(bucket, radiograph_record_key(image_id), record.to_bytes(), content_type="application/json")
    return record


def write_phase1_run(
    store: ObjectStore, bucket: str, run_id: str, radiographs: list[Radiograph], *, backbone: str | None = "shipped"
) -> list[str]:
    """Objects for every radiograph plus ``runs/phase1/<run_id>/{assignments.csv, manifest.json,
    backbone.pt}``; ``backbone``: ``"shipped"``, ``"untrained"`` or ``None`` (a run from before backbones
    were kept)."""
    store.ensure_buckets(bucket)
    records = [put_radiograph_record(store, bucket, r) for r in radiographs]
    ids = [record.image_id for record in records]
    rows = [
        AssignmentRow(image_id=i, cluster=r.cluster, confidence=0.9, second=r.cluster + 1)
        for i, r in zip(ids, radiographs, strict=True)
    ]
    prefix = run_prefix("runs/phase1", run_id)
    store.put_bytes(bucket, assignments_key(prefix), write_assignments(rows), content_type="text/csv")
    manifest = ImageManifest(run_id=run_id, images=[ManifestImage.from_record(record) for record in records])
    store.put_json(bucket, manifest_key(prefix), manifest.model_dump(mode="json"))
    if backbone is not None:
        store.put_bytes(bucket, backbone_key(prefix), phase1_backbone_bytes(backbone))
    return ids


def phase1_backbone_bytes(kind: str) -> bytes:
    """``backbone.pt`` of the shipped backbone or of a seeded, untrained ResNet-18 (both resnet18, 64 px)."""
    if kind == "shipped":
        shipped = resolve_init("default")
        assert shipped is not None, "samx-ml ships no backbone"
        return backbone_bytes(shipped_model(shipped).backbone, shipped.arch, shipped.image_size)
    if kind != "untrained":
        raise ValueError(f"backbone must be shipped or untrained, not {kind!r}")
    torch.manual_seed(0)
    return backbone_bytes(Backbone("resnet18"), "resnet18", 64)
