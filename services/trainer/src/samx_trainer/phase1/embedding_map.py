"""A 2-D map of the run's embedding space for the report: every radiograph a dot, coloured by cluster.

The projection is PCA (deterministic, no extra dependency, and honest about distances along its two axes);
a well-separated cluster is a tight blob of one colour, a mixed one is a smear."""

from __future__ import annotations

import colorsys
import io

import numpy as np
from PIL import Image, ImageDraw


def pca_2d(embeddings: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, 2): the projection on the two leading principal axes."""
    x = embeddings.astype(np.float64) - embeddings.mean(axis=0, keepdims=True)
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 2))
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    out = x @ vt[:2].T
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))  # D = 1 or N = 2 leave fewer than two axes


def cluster_colour(k: int) -> tuple[int, int, int]:
    """Distinct hues for neighbouring ids (golden-ratio steps around the colour wheel)."""
    r, g, b = colorsys.hsv_to_rgb((k * 0.618033988749895) % 1.0, 0.75, 0.85)
    return int(r * 255), int(g * 255), int(b * 255)


def embedding_map_png(embeddings: np.ndarray, clusters: np.ndarray, size: int = 640, title: str = "") -> bytes:
    """Scatter of ``pca_2d(embeddings)`` with one colour per cluster; PNG bytes."""
    pad = 24
    xy = pca_2d(embeddings)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    pix = pad + (xy - lo) / span * (size - 2 * pad)
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.text((pad, 4), title or f"embedding map (PCA), n={len(xy)}, clusters={len(np.unique(clusters))}", fill=0)
    r = 3 if len(xy) < 2000 else 2
    for (x, y), k in zip(pix, clusters, strict=True):
        draw.ellipse([x - r, size - y - r, x + r, size - y + r], fill=cluster_colour(int(k)))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
