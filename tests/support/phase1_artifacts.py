"""A phase-1 run in MinIO built from real radiographs, without running phase 1: what phase 2 reads.

Per radiograph the ingest-like objects (``derived/<id>.png`` via the ingest's own decoder and
derivative encoder, ``meta/<id>.json`` as a ``RadiographIngested`` record carrying the pseudonymous
patient id), then the run's ``assignments.csv`` (the caller says which cluster each radiograph is in)
and a ``backbone.pt`` of a seeded, untrained backbone (phase 2 must learn from the injected labels)."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass

import torch
from samx_core.events import RadiographIngested
from samx_core.events.base import ObjectRef
from samx_core.imaging import decode_radiograph, encode_derivative_png
from samx_core.radiograph import RadiographTags
from samx_core.storage import ObjectStore
from samx_ml.backbone import Backbone
from samx_trainer.artifacts import backbone_bytes


@dataclass(frozen=True)
class Radiograph:
    data: bytes  # the file as a hospital sends it (PNG here)
    patient_id: str  # pseudonymous
    cluster: int


def image_id_of(data: bytes) -> str:
    return "img-" + hashlib.sha256(data).hexdigest()[:32]


def put_radiograph(store: ObjectStore, bucket: str, r: Radiograph) -> str:
    image_id = image_id_of(r.data)
    decoded = decode_radiograph(r.data)
    derived = store.put_bytes(
        bucket, f"derived/{image_id}.png", encode_derivative_png(decoded), content_type="image/png"
    )
    ref = derived.ref()
    record = RadiographIngested(
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
        metadata=ObjectRef(bucket=bucket, key=f"meta/{image_id}.json"),
        derivative_bits=decoded.bits,
    )
    store.put_bytes(bucket, f"meta/{image_id}.json", record.to_bytes(), content_type="application/json")
    return image_id


def write_phase1_run(
    store: ObjectStore, bucket: str, run_id: str, radiographs: list[Radiograph], *, with_backbone: bool = True
) -> list[str]:
    """Objects for every radiograph plus ``runs/phase1/<run_id>/{assignments.csv, backbone.pt}``."""
    store.ensure_buckets(bucket)
    ids = [put_radiograph(store, bucket, r) for r in radiographs]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["image_id", "cluster", "confidence", "second"])
    for image_id, r in zip(ids, radiographs, strict=True):
        writer.writerow([image_id, r.cluster, "0.900000", r.cluster + 1])
    prefix = f"runs/phase1/{run_id}/"
    store.put_bytes(bucket, prefix + "assignments.csv", out.getvalue().encode(), content_type="text/csv")
    if with_backbone:
        torch.manual_seed(0)
        store.put_bytes(bucket, prefix + "backbone.pt", backbone_bytes(Backbone("resnet18"), "resnet18", 64))
    return ids
