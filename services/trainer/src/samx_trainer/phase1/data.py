"""The phase-1 data set: every ingested radiograph of the archive at the profile's working size.

The archive's ``meta/<image_id>.json`` records (the ``radiograph.ingested`` events) are listed and their
derivative PNGs streamed, resized, into a disk-backed image cache (``image_cache``): the archive never has
to fit in memory. Unreadable records and objects are skipped and counted; a run with nothing usable fails
with a clear error.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from samx_core.archive import RADIOGRAPH_RECORD_PREFIX, ManifestImage, RadiographRecord
from samx_core.storage import ObjectStore

from samx_trainer.common.image_cache import CacheWriter, derivative_fetcher, fingerprint, stream_rows
from samx_trainer.common.progress import ProgressBar

log = logging.getLogger(__name__)


class Phase1DataError(ValueError):
    """The archive cannot make a phase-1 data set (empty, too small, or nothing readable)."""


@dataclass
class RadiographSet:
    image_ids: list[str]
    images: torch.Tensor  # (N, 1, S, S) uint8, mapped from ``cache_path``
    sha256: list[str]
    derivatives: list[tuple[str, str]]  # (bucket, key) of each row's derivative PNG
    cache_path: Path
    skipped: dict[str, str] = field(default_factory=dict)  # meta key -> why
    manifest: list[ManifestImage] = field(default_factory=list)  # per row, for the run's image manifest


def load_radiographs(
    store: ObjectStore, bucket: str, size: int, cache_path: Path, *, threads: int = 8, trim_frame: bool = False
) -> RadiographSet:
    """All ingested radiographs of ``bucket`` at ``size`` px (uniform frames trimmed first with
    ``trim_frame``), sorted by image id (deterministic order), written to ``cache_path`` as they arrive."""
    meta_keys = sorted(k for k in store.list_keys(bucket, RADIOGRAPH_RECORD_PREFIX) if k.endswith(".json"))
    if not meta_keys:
        raise Phase1DataError(f"the archive bucket {bucket!r} holds no ingested radiographs (no meta/ records)")

    pixels_of = derivative_fetcher(store, size, trim_frame)

    def fetch(key: str) -> tuple[RadiographRecord, np.ndarray]:
        record = RadiographRecord.model_validate_json(store.get_bytes(bucket, str(key)))
        return record, pixels_of((record.derivative.bucket, record.derivative.key))

    bar = ProgressBar(len(meta_keys), f"loading {len(meta_keys)} radiographs")
    writer = CacheWriter(cache_path, len(meta_keys), size)
    records: list[RadiographRecord] = []
    skipped: dict[str, str] = {}
    for _, key, item, error in stream_rows(meta_keys, fetch, threads=threads):
        bar.advance()
        if item is None:
            skipped[str(key)] = error or "unknown"
            continue
        record, pixels = item
        writer.append(pixels)
        records.append(record)
    bar.close()
    if skipped:
        log.warning("skipped %d unreadable radiographs, e.g. %s", len(skipped), next(iter(skipped.items())))
    if not records:
        raise Phase1DataError(
            f"none of the {len(meta_keys)} archive records could be read; first error: {next(iter(skipped.values()))}"
        )
    refs = [(r.derivative.bucket, r.derivative.key) for r in records]
    images = writer.finish(fingerprint(refs, size, trim_frame))
    return RadiographSet(
        [r.image_id for r in records],
        images,
        [r.sha256 for r in records],
        refs,
        cache_path,
        skipped,
        [ManifestImage.from_record(r) for r in records],
    )


def buffer_png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", optimize=True)
    return out.getvalue()
