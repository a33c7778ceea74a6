"""Splitting a cluster's radiographs into parts on their phase-1 embeddings.

k-means (Lloyd's algorithm, k-means++ seeding, a few restarts) on L2-normalised rows: the cosine
geometry the SimCLR/SCAN embeddings are trained in (Van Gansbeke et al., "SCAN", ECCV 2020). Deterministic
for a given seed, so the same request proposes the same parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Parts:
    assignment: np.ndarray  # (N,) int, 0..k-1, part 0 the largest
    closeness: np.ndarray  # (N,) cosine similarity to its part's centre (exemplars: the highest first)
    cohesion: float  # mean closeness: 1.0 for identical rows

    @property
    def k(self) -> int:
        return int(self.assignment.max()) + 1 if len(self.assignment) else 0


def normalised(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cohesion(vectors: np.ndarray) -> float:
    """Mean cosine similarity of the rows to their mean direction: low for a cluster that mixes regions."""
    x = normalised(vectors)
    centre = x.mean(axis=0)
    centre /= max(np.linalg.norm(centre), 1e-12)
    return float((x @ centre).mean()) if len(x) else 1.0


def split_parts(vectors: np.ndarray, k: int, *, seed: int, restarts: int = 4, iterations: int = 60) -> Parts:
    """(N, D) -> k parts (fewer when rows coincide); raises ValueError when N < k."""
    x = normalised(vectors)
    n = len(x)
    if n < k:
        raise ValueError(f"{n} radiographs cannot make {k} parts")
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray] | None = None
    for _ in range(restarts):
        labels = _lloyd(x, _plus_plus(x, k, rng), iterations)
        inertia = float(((x - _centres(x, labels, k)[labels]) ** 2).sum())
        if best is None or inertia < best[0] - 1e-12:
            best = (inertia, labels)
    assert best is not None
    labels = _by_size(best[1])
    centres = _centres(x, labels, int(labels.max()) + 1)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    closeness = (x * centres[labels]).sum(axis=1)
    return Parts(assignment=labels, closeness=closeness, cohesion=float(closeness.mean()))


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.maximum(_sq_distances(x, np.asarray(centres)).min(axis=1), 0.0)
        total = d2.sum()
        pick = rng.choice(len(x), p=d2 / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick])
    return np.asarray(centres)


def _lloyd(x: np.ndarray, centres: np.ndarray, iterations: int) -> np.ndarray:
    labels = np.full(len(x), -1)
    for _ in range(iterations):
        new = np.argmin(_sq_distances(x, centres), axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(len(centres)):
            if (labels == j).any():  # an emptied centre stays where it was
                centres[j] = x[labels == j].mean(axis=0)
    return labels


def _sq_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    # |x - c|^2 by the expansion: (N, k) without an (N, k, D) intermediate for a cluster of thousands.
    return (x**2).sum(1)[:, None] + (centres**2).sum(1)[None, :] - 2.0 * x @ centres.T


def _centres(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return np.stack([x[labels == j].mean(axis=0) if (labels == j).any() else np.zeros(x.shape[1]) for j in range(k)])


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumbers the non-empty parts 0..k-1, largest first (ties: lowest old number)."""
    sizes = np.bincount(labels)
    order = [j for j in sorted(range(len(sizes)), key=lambda j: (-sizes[j], j)) if sizes[j] > 0]
    mapping = np.empty(len(sizes), dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return mapping[labels]
