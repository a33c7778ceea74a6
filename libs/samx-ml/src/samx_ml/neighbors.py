"""Mining the k nearest neighbours in embedding space (SCAN step 2).

Van Gansbeke et al., "SCAN: Learning to Classify Images without Labels", ECCV 2020, arXiv:2005.12320,
section 2.1: neighbours of a pretext embedding tend to share its semantic class.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


@torch.no_grad()
def mine_neighbors(embeddings: torch.Tensor, k: int = 20, chunk: int = 4096) -> torch.Tensor:
    """Indices of the k most cosine-similar other rows for every row.

    - embeddings: (N, D), any device; compared by cosine similarity
    - returns: (N, k) int64 on the same device, most similar first, never the row itself

    Rows are compared in chunks of ``chunk`` queries, so memory is O(chunk * N), never O(N * N)
    (50k x 50k floats would be 10 GB).
    """
    n = embeddings.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k={k} must be between 1 and N-1={n - 1}")
    z = F.normalize(embeddings.float(), dim=1)
    out = torch.empty((n, k), dtype=torch.long, device=z.device)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        sim = z[start:stop] @ z.t()  # (chunk, N)
        sim[torch.arange(stop - start, device=z.device), torch.arange(start, stop, device=z.device)] = -float("inf")
        out[start:stop] = sim.topk(k, dim=1).indices
    return out


def neighbor_accuracy(neighbors: np.ndarray | torch.Tensor, multi_hot: np.ndarray) -> float:
    """Fraction of (anchor, neighbour) pairs that share at least one label.

    - neighbors: (N, k) indices; multi_hot: (N, C) bool. Anchors without labels are skipped, and so are
      unlabeled neighbours.
    """
    nb = neighbors.cpu().numpy() if isinstance(neighbors, torch.Tensor) else np.asarray(neighbors)
    labeled = np.asarray(multi_hot.any(1))  # (N,) bool (numpy types .any(axis) as scalar or array)
    anchors = np.flatnonzero(labeled)
    if len(anchors) == 0:
        return float("nan")
    nbr = nb[anchors]  # (A, k)
    valid = labeled[nbr]
    share = (multi_hot[anchors][:, None, :] & multi_hot[nbr]).any(-1)
    return float(share[valid].mean()) if valid.any() else float("nan")


def pixel_features(images: torch.Tensor, side: int = 32) -> torch.Tensor:
    """The floor any learned embedding must beat: uint8 images (N, 1, H, W) -> their area-downsampled
    pixels in [0, 1], (N, side * side) float32 (the raw-pixel baseline of the benchmarks)."""
    return F.interpolate(images.float() / 255, size=(side, side), mode="area").flatten(1)
