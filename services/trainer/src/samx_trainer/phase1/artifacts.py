"""The run's artifacts, written under ``<runs prefix>/<run id>/`` in the archive bucket: assignments,
per-cluster summaries and montages, the image manifest, embeddings, metrics, histograms and a markdown
report. The ones other services read are ``samx_core.archive`` payloads (models and keys there)."""

from __future__ import annotations

import io
import json

import numpy as np
import torch
from PIL import Image, ImageDraw
from pydantic import BaseModel
from samx_core.archive import AssignmentRow, ClusterSummary, write_assignments
from samx_core.events.base import ObjectRef
from samx_core.storage import ObjectStore

from samx_trainer.phase1.clusters import Clustering
from samx_trainer.phase1.data import buffer_png


def assignments_csv(image_ids: list[str], c: Clustering) -> bytes:
    # Confidences are softmax outputs; the clip only absorbs float noise at the edges.
    return write_assignments(
        AssignmentRow(
            image_id=image_id,
            cluster=int(c.cluster[i]),
            confidence=min(max(float(c.confidence[i]), 0.0), 1.0),
            second=int(c.second[i]),
        )
        for i, image_id in enumerate(image_ids)
    )


def cluster_summaries(image_ids: list[str], c: Clustering, n_best: int, n_worst: int) -> list[dict]:
    """One entry per cluster (empty ones too): size, mean confidence, exemplars, least confident."""
    out = []
    for k in range(c.k):
        members = np.flatnonzero(c.cluster == k)
        order = members[np.argsort(-c.confidence[members], kind="stable")]
        summary = ClusterSummary(
            cluster=k,
            size=int(len(members)),
            mean_confidence=float(c.confidence[members].mean()) if len(members) else None,
            exemplars=[image_ids[i] for i in order[:n_best]],
            least_confident=[image_ids[i] for i in order[::-1][:n_worst]],
        )
        out.append(summary.model_dump(mode="json"))
    return out


def montage(images: torch.Tensor, idx: list[int], grid: int = 4) -> bytes:
    """(grid x grid) tiles of uint8 (N, 1, S, S) images, row-major, most confident first; PNG bytes."""
    s = images.shape[-1]
    canvas = np.zeros((grid * s, grid * s), dtype=np.uint8)
    for t, i in enumerate(idx[: grid * grid]):
        r, col = divmod(t, grid)
        canvas[r * s : (r + 1) * s, col * s : (col + 1) * s] = images[i, 0].numpy()
    return buffer_png(canvas)


def histogram_png(values: np.ndarray, bins: int, title: str, range_: tuple[float, float] | None = None) -> bytes:
    """A plain bar chart of ``np.histogram(values)`` (no plotting dependency)."""
    counts, edges = np.histogram(values, bins=bins, range=range_)
    w, h, pad = 480, 260, 30
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    draw.text((pad, 6), f"{title}  (n={len(values)}, {edges[0]:.3g}..{edges[-1]:.3g})", fill=0)
    top = max(int(counts.max()), 1)
    bw = (w - 2 * pad) / len(counts)
    for b, n in enumerate(counts):
        y = h - pad - (h - 2 * pad - 10) * n / top
        draw.rectangle([pad + b * bw, y, pad + (b + 1) * bw - 1, h - pad], fill=90)
    draw.line([pad, h - pad, w - pad, h - pad], fill=0)
    draw.text((pad, h - pad + 6), f"{edges[0]:.3g}", fill=0)
    draw.text((w - pad - 30, h - pad + 6), f"{edges[-1]:.3g}", fill=0)
    draw.text((4, pad), str(top), fill=0)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def backbone_bytes(backbone: torch.nn.Module, arch: str, image_size: int) -> bytes:
    """``backbone.pt``: the phase-1 backbone phase 2 starts from (the paper's label injection).

    A dict {"arch", "image_size" (pretext size), "state_dict"} of CPU tensors; load with
    ``torch.load(..., weights_only=True)``."""
    out = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in backbone.state_dict().items()}
    torch.save({"arch": arch, "image_size": image_size, "state_dict": state}, out)
    return out.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array.astype(np.float32), allow_pickle=False)
    return out.getvalue()


class RunArtifacts:
    """Writes objects under one run's prefix and remembers their references."""

    def __init__(self, store: ObjectStore, bucket: str, prefix: str) -> None:
        self.store, self.bucket, self.prefix = store, bucket, prefix.rstrip("/") + "/"
        self.refs: dict[str, ObjectRef] = {}

    def put(self, name: str, data: bytes, content_type: str) -> ObjectRef:
        ref = self.store.put_bytes(self.bucket, self.prefix + name, data, content_type=content_type).ref()
        self.refs[name] = ref
        return ref

    def put_json(self, name: str, document: object) -> ObjectRef:
        return self.put(name, json.dumps(document, indent=1, default=float).encode(), "application/json")

    def name_of(self, key: str) -> str:
        """The name under this run's prefix of a key a ``samx_core.archive`` builder gave."""
        if not key.startswith(self.prefix):
            raise ValueError(f"{key!r} is not under the run's prefix {self.prefix!r}")
        return key[len(self.prefix) :]

    def put_payload(self, key: str, payload: BaseModel) -> ObjectRef:
        return self.put_json(self.name_of(key), payload.model_dump(mode="json"))
