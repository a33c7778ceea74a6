"""SCAN clustering (step 3) and self-labeling (step 4) on a frozen backbone.

Van Gansbeke et al., ECCV 2020, arXiv:2005.12320. As in SCAN's ImageNet setting, only the cluster heads
are trained; the backbone's features of several augmented views per image are computed once into a
feature bank (V, N, q), which makes hundreds of SCAN epochs cost seconds even on a CPU.

The bank is whitened on the archive itself (``Whitening``): a backbone pretrained on other radiographs
(samx-rad-v1: other sources, other regions) spends most of its variance on directions that tell one
source or exposure from another, and cosine neighbourhoods follow those. Centring on this archive's mean
and equalising its leading principal directions lets the anatomy count (measured in
bench/results/README.md, section "Whitening the phase-1 feature bank"). Only with enough images per
direction: whitening N images to nearly N dimensions makes them all equidistant (measured on 120 dev
radiographs: k-means NMI 0.48 plain, 0.06 whitened to 128), so a smaller archive keeps the plain bank.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from samx_ml.augment import AugmentConfig
from samx_ml.optim import Adam
from samx_ml.pretext import embed
from samx_ml.profiles import ScanConfig, SelfLabelConfig
from samx_ml.runtime import EpochPlanner, Progress, ProgressFn
from samx_ml.scan import ClusterHeads, scan_loss
from samx_ml.self_label import count_nonempty, self_label_loss

# Images per whitened dimension below which the bank stays plain (the covariance is not estimated well
# enough: see the module docstring). 1,479 dev images at 128 dims (11.6 per dim) gained; 120 at 6-128 lost.
WHITEN_MIN_IMAGES_PER_DIM = 10


@dataclass(frozen=True)
class Whitening:
    """Centring and PCA whitening of backbone features, fitted on one archive's eval views.

    - ``fit``: features (N, D) -> mean (D,), projection (D, q) with q = min(dims, N, D) directions,
      each scaled by its inverse singular value (directions with none left out)
    - ``__call__``: features (M, D) -> (M, q), L2-normalized
    """

    mean: torch.Tensor
    projection: torch.Tensor

    @classmethod
    def fit(cls, features: torch.Tensor, dims: int) -> Whitening:
        mean = features.mean(0)
        _, singular, vh = torch.linalg.svd(features - mean, full_matrices=False)
        keep = singular[:dims] > singular[0] * 1e-6  # a rank-deficient set: no division by ~0
        return cls(mean, vh[:dims][keep].T / singular[:dims][keep])

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize((features - self.mean) @ self.projection, dim=-1)


@dataclass(frozen=True)
class FeatureBank:
    """Every view's features of one archive, ready for neighbour mining and the cluster heads."""

    views: torch.Tensor  # (V, N, q) L2-normalized; view 0 the eval view, views 1..V-1 random augmentations
    whitening: Whitening | None  # None: the backbone's own features, only L2-normalized

    def features_of(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone features (M, D) of other images -> comparable with the views (M, q)."""
        return self.whitening(features) if self.whitening is not None else F.normalize(features, dim=-1)


@torch.no_grad()
def feature_bank(
    backbone: torch.nn.Module,
    images: torch.Tensor,
    size: int,
    n_views: int,
    augment: AugmentConfig,
    device: torch.device,
    whiten_dims: int | None = None,
) -> FeatureBank:
    """The bank of ``n_views`` views of every image; whitened to ``whiten_dims`` (fitted on the eval
    views) unless None or the archive has fewer than ``WHITEN_MIN_IMAGES_PER_DIM * whiten_dims`` images."""
    views = [embed(backbone, images, size, device)]
    views += [embed(backbone, images, size, device, augment=augment) for _ in range(n_views - 1)]
    raw = torch.stack(views)
    if whiten_dims is None or len(images) < WHITEN_MIN_IMAGES_PER_DIM * whiten_dims:
        return FeatureBank(F.normalize(raw, dim=-1), None)
    whitening = Whitening.fit(raw[0], whiten_dims)
    return FeatureBank(whitening(raw), whitening)


@dataclass
class ScanResult:
    heads: ClusterHeads
    best_head: int
    head_losses: list[float]
    epochs: int
    seconds: float
    self_label: dict[str, object] = field(default_factory=dict)

    def head(self) -> torch.nn.Sequential:
        """The kept head: (B, D) features -> (B, K) logits."""
        return self.heads.single(self.best_head)


def _random_views(bank: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    v = torch.randint(0, bank.shape[0], (len(idx),), device=bank.device)
    return bank[v, idx]


def train_scan(
    bank: torch.Tensor,
    neighbors: torch.Tensor,
    n_clusters: int,
    cfg: ScanConfig,
    progress: ProgressFn | None = None,
    budget_s: float | None = None,
    seed: int = 0,
) -> ScanResult:
    """Train ``cfg.n_heads`` heads with the SCAN loss; bank (V, N, D), neighbors (N, k) indices."""
    torch.manual_seed(seed)
    dev = bank.device
    n, k = neighbors.shape
    heads = ClusterHeads(bank.shape[-1], n_clusters, cfg.n_heads).to(dev)
    heads.norm.fit(bank[0])
    opt = Adam(heads.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    bs, planner, epoch = min(cfg.batch_size, n), EpochPlanner(cfg.epochs, budget_s), 0
    while True:
        t0, total = time.perf_counter(), 0.0
        perm = torch.randperm(n, device=dev)
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            nb = neighbors[idx, torch.randint(0, k, (len(idx),), device=dev)]
            a_logits, n_logits = heads(_random_views(bank, idx)), heads(_random_views(bank, nb))
            loss = sum(
                (scan_loss(a_logits[h], n_logits[h], cfg.entropy_weight)[0] for h in range(heads.n_heads)),
                torch.zeros((), device=dev),
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() / heads.n_heads
        epoch += 1
        epoch_s = time.perf_counter() - t0
        go_on = planner.after_epoch(epoch, epoch_s)
        if progress and (epoch % 20 == 0 or not go_on):
            progress(Progress("scan", epoch, planner.epochs, total * bs / n, n / epoch_s, planner.eta(epoch, epoch_s)))
        if not go_on:
            break
    head_losses = _head_losses(heads, bank, neighbors, cfg.entropy_weight)
    best = int(torch.tensor(head_losses).argmin())
    return ScanResult(heads.eval(), best, head_losses, epoch, planner.elapsed())


@torch.no_grad()
def _head_losses(heads: ClusterHeads, bank: torch.Tensor, neighbors: torch.Tensor, w: float) -> list[float]:
    """Full-data SCAN loss of every head on the eval view, averaged over all k neighbours."""
    logits = heads(bank[0])  # (H, N, K)
    return [
        float(sum(scan_loss(logits[h], logits[h][neighbors[:, j]], w)[0] for j in range(neighbors.shape[1])))
        / neighbors.shape[1]
        for h in range(heads.n_heads)
    ]


def self_label(
    scan: ScanResult,
    bank: torch.Tensor,
    cfg: SelfLabelConfig,
    progress: ProgressFn | None = None,
    budget_s: float | None = None,
) -> ScanResult:
    """Fine-tune the best head on its own confident predictions (eval view -> augmented views).

    Collapse guard: when the number of non-empty clusters drops by more than ``collapse_tolerance``,
    the head is rolled back to its last good state and self-labeling stops (reported in ``self_label``).
    """
    head = scan.head()
    last = head[-1]
    assert isinstance(last, torch.nn.Linear)  # ClusterHeads.single: (Standardize, Linear)
    k = last.out_features
    start_nonempty = count_nonempty(head(bank[0]).argmax(1), k)
    report: dict[str, object] = {
        "enabled": cfg.enabled,
        "nonempty_before": start_nonempty,
        "collapsed": False,
        "epochs": 0,
    }
    if not cfg.enabled:
        scan.self_label = report
        return scan
    opt = Adam(head.parameters(), lr=cfg.lr, weight_decay=1e-4)
    good = copy.deepcopy(head.state_dict())
    n, bs, planner, epoch = bank.shape[1], 512, EpochPlanner(cfg.epochs, budget_s), 0
    while True:
        t0, total, n_conf = time.perf_counter(), 0.0, 0
        perm = torch.randperm(n, device=bank.device)
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            with torch.no_grad():
                weak = head(bank[0, idx])
            loss, c = self_label_loss(weak, head(_random_views(bank, idx)), cfg.threshold)
            n_conf += c
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        epoch += 1
        with torch.no_grad():
            nonempty = count_nonempty(head(bank[0]).argmax(1), k)
        if n_conf == 0:
            report["note"] = f"no prediction above {cfg.threshold}: nothing to self-label"
            break
        if nonempty < start_nonempty * (1 - cfg.collapse_tolerance):
            head.load_state_dict(good)
            report.update(collapsed=True, note=f"clusters emptied ({nonempty}/{start_nonempty}): rolled back")
            break
        good = copy.deepcopy(head.state_dict())
        report.update(epochs=epoch, confident_fraction=n_conf / n, nonempty_after=nonempty)
        go_on = planner.after_epoch(epoch, time.perf_counter() - t0)
        if progress and (epoch % 10 == 0 or not go_on):
            progress(Progress("self-label", epoch, planner.epochs, total, n / (time.perf_counter() - t0), 0.0))
        if not go_on:
            break
    scan.self_label = report
    return scan


@torch.no_grad()
def assign(head: torch.nn.Module, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cluster assignment of (N, D) features: cluster, confidence, second-best cluster (each (N,))."""
    probs = F.softmax(head(F.normalize(features, dim=-1)).float(), dim=1)  # the bank is L2-normalized too
    top = probs.topk(2, dim=1)
    return {"cluster": top.indices[:, 0], "confidence": top.values[:, 0], "second": top.indices[:, 1], "probs": probs}
