"""The over-clustering K chosen from the data size.

The paper (Hinterwimmer et al., Eur Radiol 2023) sorted 42,608 radiographs into 1000 clusters, about one
cluster per 43 images, as in SCAN's ImageNet run (Van Gansbeke et al., ECCV 2020, arXiv:2005.12320).
Our decision budget allows at most one naming decision per 20 images (K <= N/20).

Rule: ``K = clamp(round(N / 25), k_min, 1000)``, then capped at ``N // 20``.

Why 25: it stays inside the N/20 budget with a 20% margin (so a handful of empty clusters or a slightly
larger N does not matter), and it gives each cluster about as many members as SCAN's k = 20 mined
neighbours, so an anchor's neighbours can mostly fall into its own cluster. Over-clustering (K much
larger than the ~22 anatomical regions) lets a big region like chest (40% of the data) spread over many
clusters while rare regions still get clusters of their own; the radiologist then gives several clusters
the same name. At the paper's scale the rule gives 1000 (the cap), the paper's value.
"""

from __future__ import annotations

K_MAX = 1000
IMAGES_PER_CLUSTER = 25
MAX_DECISION_RATE = 20  # at most one naming decision per 20 images


def choose_k(n_images: int, override: int | None = None, k_min: int = 10) -> int:
    """Number of clusters for ``n_images`` images; ``override`` wins when given (must be 2..N).

    >>> choose_k(42_608), choose_k(1_481), choose_k(64)
    (1000, 59, 3)
    """
    if n_images <= 0:
        raise ValueError("empty data set: nothing to cluster")
    if override is not None:
        if not 2 <= override <= n_images:
            raise ValueError(f"K={override} must be between 2 and the number of images ({n_images})")
        return int(override)
    if n_images < 2 * MAX_DECISION_RATE:
        raise ValueError(
            f"{n_images} images are too few for at least 2 clusters at one decision per "
            f"{MAX_DECISION_RATE} images; give K explicitly"
        )
    k = min(max(round(n_images / IMAGES_PER_CLUSTER), k_min), K_MAX)
    return int(max(2, min(k, n_images // MAX_DECISION_RATE)))
