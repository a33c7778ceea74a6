"""Phase 1 after the pretext, on the driver: embed -> mine neighbours -> SCAN heads -> optional
self-labeling -> assignment of every radiograph (SCAN, Van Gansbeke et al., arXiv:2005.12320)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch
from samx_ml.clustering import assign, feature_bank, self_label, train_scan
from samx_ml.k_rule import choose_k
from samx_ml.neighbors import mine_neighbors
from samx_ml.profiles import Profile
from samx_ml.runtime import ProgressFn, print_progress

from samx_trainer.phase1.data import Phase1DataError


@dataclass
class Clustering:
    k: int
    cluster: np.ndarray  # (N,) int
    confidence: np.ndarray  # (N,) float, softmax probability of the assigned cluster
    second: np.ndarray  # (N,) int, second most probable cluster
    embeddings: np.ndarray  # (N, q) float32, the eval view as clustered: whitened (or not) and L2-normalized
    scan: dict  # heads' losses, kept head, epochs, self-label report
    seconds: float


def number_of_clusters(n_images: int, override: int | None) -> int:
    """K from samx_ml's documented rule (or the override), as a data error when the set is too small."""
    try:
        k = choose_k(n_images, override)
    except ValueError as exc:
        raise Phase1DataError(f"data set of {n_images} radiographs is too small to cluster: {exc}") from exc
    if n_images <= k:
        raise Phase1DataError(f"data set of {n_images} radiographs is smaller than K={k} clusters")
    return k


def cluster_radiographs(
    backbone: torch.nn.Module,
    images: torch.Tensor,
    profile: Profile,
    k: int,
    device: torch.device,
    *,
    with_self_label: bool,
    seed: int = 0,
    progress: ProgressFn = print_progress,
) -> Clustering:
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    backbone = backbone.to(device)
    size = profile.pretext.image_size
    scan_cfg = profile.scan
    bank = feature_bank(backbone, images, size, scan_cfg.n_views, scan_cfg.augment, device, scan_cfg.whiten_dims).views
    neighbors = mine_neighbors(bank[0], min(profile.scan.n_neighbors, len(images) - 1))
    scan = train_scan(bank, neighbors, k, profile.scan, progress, seed=seed)
    scan = self_label(scan, bank, replace(profile.self_label, enabled=with_self_label), progress)
    out = assign(scan.head(), bank[0])
    report = {
        "epochs": scan.epochs,
        "head_losses": scan.head_losses,
        "best_head": scan.best_head,
        "n_neighbors": int(neighbors.shape[1]),
        "self_label": scan.self_label,
    }
    return Clustering(
        k=k,
        cluster=out["cluster"].cpu().numpy(),
        confidence=out["confidence"].float().cpu().numpy(),
        second=out["second"].cpu().numpy(),
        embeddings=bank[0].float().cpu().numpy(),
        scan=report,
        seconds=time.perf_counter() - t0,
    )
