"""Pretraining SAM-X's shipped backbone on a corpus of public radiographs (not an archive's).

SimCLR (Chen et al., arXiv:2002.05709), exactly phase 1's pretext objective, plus a multi-task linear
head on the coarse region each source of the corpus shows (chest, knee, spine, hand, shoulder, skull):
the corpus knows that per source, not per image, and a few epochs of it shape the features along anatomy
far sooner than contrast alone does on a CPU budget. Only the SimCLR model (backbone + projection head)
is kept; the region head is thrown away, so nothing ties the backbone to those six names.

Images are uint8 (N, 1, S, S); a batch is (x, region) with region int64 (B,) in [0, n_regions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from samx_ml.augment import random_view
from samx_ml.compute import ComputePolicy
from samx_ml.optim import SGD, Optimizer
from samx_ml.profiles import PretextConfig
from samx_ml.runtime import warmup_cosine
from samx_ml.simclr import SimCLRModel, nt_xent_loss

RegionBatchAt = Callable[[int], tuple[torch.Tensor, torch.Tensor]]  # step -> (uint8 (B,1,H,W), int64 (B,))


class RegionHead(nn.Module):
    """Linear probe on backbone features: (B, feature_dim) -> (B, n_regions) logits."""

    def __init__(self, feature_dim: int, n_regions: int) -> None:
        super().__init__()
        self.fc = nn.Linear(feature_dim, n_regions)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(h)
        return out


@dataclass
class EpochFigures:
    contrastive: float  # mean NT-Xent
    region: float  # mean region cross entropy
    region_accuracy: float  # on the augmented views of the epoch


def pretrain_epoch(
    model: SimCLRModel,
    regions: RegionHead,
    opt: Optimizer,
    batch_at: RegionBatchAt,
    steps: int,
    epoch: int,
    epochs: int,
    base_lr: float,
    cfg: PretextConfig,
    policy: ComputePolicy,
    region_weight: float,
) -> EpochFigures:
    """One epoch of ``steps`` batches: loss = NT-Xent(two views) + region_weight x CE(region | both views)."""
    sums = torch.zeros(3)
    seen = 0
    for s in range(steps):
        for group in opt.param_groups:
            group["lr"] = base_lr * warmup_cosine((epoch + s / steps) / epochs, cfg.warmup_frac)
        x, y = batch_at(s)
        v = torch.cat([random_view(x, cfg.image_size, cfg.augment), random_view(x, cfg.image_size, cfg.augment)])
        with policy.autocast():
            h = model.backbone(policy.prepare_batch(v))  # (2B, feature_dim)
            z = model.head(h)
            logits = regions(h)
        contrastive = nt_xent_loss(z[: len(x)], z[len(x) :], cfg.temperature)
        target = torch.cat([y, y])
        region = F.cross_entropy(logits.float(), target)
        loss = contrastive + region_weight * region
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct = (logits.argmax(1) == target).sum()
        sums += torch.stack([contrastive.detach() * len(x), region.detach() * len(x), correct.float() / 2])
        seen += len(x)
    c, r, a = (sums / max(seen, 1)).tolist()
    return EpochFigures(c, r, a)


def pretrain_optimizer(
    model: SimCLRModel, regions: RegionHead, cfg: PretextConfig, batch: int
) -> tuple[Optimizer, float]:
    """SimCLR's SGD with momentum at its linear LR scaling, over both heads; (optimizer, base LR)."""
    base_lr = cfg.lr_per_256 * batch / 256
    params = [*model.parameters(), *regions.parameters()]
    opt = SGD(params, lr=base_lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return opt, base_lr
