"""The phase-1 data set: every ingested radiograph of the archive, as a uint8 tensor (N, 1, S, S).

The archive's ``meta/<image_id>.json`` records (the ``radiograph.ingested`` events) are listed, their
derivative PNGs fetched in parallel and resized to the profile's working size. Unreadable records and
objects are skipped and counted; a run with nothing usable fails with a clear error.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from samx_core.events import RadiographIngested
from samx_core.imaging import load_derivative, to_uint8_square
from samx_core.storage import ObjectStore

from samx_trainer.progress import ProgressBar

log = logging.getLogger(__name__)


class Phase1DataError(ValueError):
    """The archive cannot make a phase-1 data set (empty, too small, or nothing readable)."""


@dataclass
class RadiographSet:
    image_ids: list[str]
    images: torch.Tensor  # (N, 1, S, S) uint8
    sha256: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # meta key or image id -> why


def _load_one(store: ObjectStore, bucket: str, meta_key: str, size: int) -> tuple[str, str, np.ndarray]:
    record = RadiographIngested.model_validate_json(store.get_bytes(bucket, meta_key))
    png = store.get_bytes(record.derivative.bucket, record.derivative.key)
    return record.image_id, record.sha256, to_uint8_square(load_derivative(png), size)


def load_radiographs(store: ObjectStore, bucket: str, size: int, *, threads: int = 8) -> RadiographSet:
    """All ingested radiographs of ``bucket`` at ``size`` px, sorted by image id (deterministic order)."""
    meta_keys = sorted(k for k in store.list_keys(bucket, "meta/") if k.endswith(".json"))
    if not meta_keys:
        raise Phase1DataError(f"the archive bucket {bucket!r} holds no ingested radiographs (no meta/ records)")
    bar = ProgressBar(len(meta_keys), f"loading {len(meta_keys)} radiographs")
    loaded: list[tuple[str, str, np.ndarray]] = []
    skipped: dict[str, str] = {}

    def task(key: str):
        try:
            return key, _load_one(store, bucket, key, size), None
        except Exception as exc:  # a bad object must not stop the run: count it
            return key, None, f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for key, item, error in pool.map(task, meta_keys):
            bar.advance()
            if item is None:
                skipped[key] = error or "unknown"
            else:
                loaded.append(item)
    bar.close()
    if skipped:
        log.warning("skipped %d unreadable radiographs, e.g. %s", len(skipped), next(iter(skipped.items())))
    if not loaded:
        raise Phase1DataError(
            f"none of the {len(meta_keys)} archive records could be read; first error: {next(iter(skipped.values()))}"
        )
    ids = [i for i, _, _ in loaded]
    images = torch.from_numpy(np.stack([p for _, _, p in loaded]))[:, None]
    return RadiographSet(ids, images.contiguous(), [s for _, s, _ in loaded], skipped)


def buffer_png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", optimize=True)
    return out.getvalue()
