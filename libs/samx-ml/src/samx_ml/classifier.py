"""Phase 2: label injection and the classifier (Hinterwimmer et al., Eur Radiol 2023).

Every image of a named cluster takes the cluster's name; the phase-1 backbone gets a new linear head and
is fine-tuned on those labels. Class imbalance (chest ~40% of the dev data, some regions a handful of
images) is handled by a choice, ``ClassifierConfig.balance``:

- ``"none"``: plain cross entropy;
- ``"weighted"``: cross entropy with class weights ~ frequency^-power (power 1 = fully balanced);
- ``"sampler"``: images drawn with probability ~ frequency(class)^-power (class-balanced sampling).

Targets are soft (N, C) distributions, so a multi-label image (``hand;wrist``) puts half its mass on
each of its labels.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from samx_ml.augment import random_view
from samx_ml.backbone import Backbone
from samx_ml.compute import ComputePolicy, resolve_policy
from samx_ml.metrics import UNNAMED
from samx_ml.optim import AdamW, Optimizer
from samx_ml.pretext import embed
from samx_ml.profiles import ClassifierConfig
from samx_ml.runtime import EpochPlanner, Progress, ProgressFn, as_image_tensor, setup_device, warmup_cosine

# step s of the epoch -> (uint8 images (B, 1, H, W), soft targets (B, C)) on the device
LabeledBatchAt = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


class Classifier(nn.Module):
    """Backbone + linear head: (B, 1, H, W) -> logits (B, C)."""

    def __init__(self, backbone: Backbone, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.backbone(x))
        return out


def inject_labels(clusters: np.ndarray, names: np.ndarray) -> np.ndarray:
    """(N,) cluster of every image, (K,) cluster names -> (N,) class index, ``UNNAMED`` (-1) when discarded."""
    labels: np.ndarray = names[clusters]
    return labels


def soft_targets(multi_hot: np.ndarray) -> np.ndarray:
    """(N, C) bool -> (N, C) float32 rows summing to 1 (uniform over the image's labels)."""
    t = multi_hot.astype(np.float32)
    rows: np.ndarray = t / np.clip(t.sum(1, keepdims=True), 1, None)
    return rows


def class_weights(targets: torch.Tensor, power: float) -> torch.Tensor:
    """(C,) weights ~ frequency^-power, mean 1 over present classes; absent classes get 0."""
    freq = targets.sum(0)
    w = torch.where(freq > 0, freq.clamp_min(1e-6) ** -power, torch.zeros_like(freq))
    return w * (freq > 0).sum() / w.sum()


@dataclass
class ClassifierResult:
    model: Classifier
    epochs: int
    seconds: float
    images_per_s: float
    losses: list[float] = field(default_factory=list)
    compute: dict[str, object] = field(default_factory=dict)  # ComputePolicy.describe() of what ran


def classifier_optimizer(model: Classifier, cfg: ClassifierConfig) -> tuple[Optimizer, list[float]]:
    """AdamW with the backbone at ``backbone_lr_mult`` x the head's LR; (optimizer, base LR per group)."""
    groups: list[dict[str, Any]] = [  # torch's parameter groups
        {"params": model.backbone.parameters(), "lr": cfg.lr * cfg.backbone_lr_mult},
        {"params": model.head.parameters(), "lr": cfg.lr},
    ]
    base = [g["lr"] for g in groups]
    return AdamW(groups, weight_decay=cfg.weight_decay), base


def batch_order(n: int, steps: int, bs: int, sample_p: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """An epoch's image order: a permutation, or ``steps x bs`` class-balanced draws when ``sample_p``."""
    if sample_p is not None:
        return torch.multinomial(sample_p, steps * bs, replacement=True)
    return torch.randperm(n, device=device)


def classifier_epoch(
    model: nn.Module,
    opt: Optimizer,
    base_lrs: list[float],
    batch_at: LabeledBatchAt,
    steps: int,
    epoch: int,
    epochs: int,
    cfg: ClassifierConfig,
    policy: ComputePolicy,
    loss_weight: torch.Tensor | None = None,
) -> float:
    """One fine-tuning epoch of ``steps`` batches (warm-up + cosine LR per step); returns the mean loss.

    The one phase-2 loop: the single-process trainer below and the Ray Train job (each rank on its own
    shard, ``model`` wrapped in DDP) both run it. Logits (B, C) are scored in float32 against soft
    targets (B, C) smoothed by ``cfg.label_smoothing``."""
    total = 0.0
    for s in range(steps):
        for g, b in zip(opt.param_groups, base_lrs, strict=True):
            g["lr"] = b * warmup_cosine((epoch + s / steps) / epochs, cfg.warmup_frac)
        x, y = batch_at(s)
        v = policy.prepare_batch(random_view(x, cfg.image_size, cfg.augment))
        with policy.autocast():
            logits = model(v)
        target = y * (1 - cfg.label_smoothing) + cfg.label_smoothing / y.shape[1]
        loss = F.cross_entropy(logits.float(), target, weight=loss_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
    return total / steps


def train_classifier(
    images: torch.Tensor,
    targets: np.ndarray,
    backbone: Backbone,
    cfg: ClassifierConfig,
    device: torch.device,
    progress: ProgressFn | None = None,
    budget_s: float | None = None,
    seed: int = 0,
    stage: str = "phase2",
    precision: str = "auto",
) -> ClassifierResult:
    """Fine-tune a copy of ``backbone`` + a new head on uint8 images (N,1,H,W) and soft targets (N, C)."""
    setup_device(device)
    policy = resolve_policy(device, precision)
    torch.manual_seed(seed)
    images = as_image_tensor(images)
    x_all, y_all = images.to(device), torch.as_tensor(targets, dtype=torch.float32, device=device)
    n, c = y_all.shape
    if cfg.balance not in ("none", "weighted", "sampler"):
        raise ValueError(f"balance must be none, weighted or sampler, not {cfg.balance!r}")
    model = policy.prepare_module(Classifier(copy.deepcopy(backbone), c))
    weights = class_weights(y_all, cfg.balance_power)
    bs = min(cfg.batch_size, n)
    steps = max(1, n // bs)
    opt, base = classifier_optimizer(model, cfg)
    planner, epoch, losses, seen, train_s = EpochPlanner(cfg.epochs, budget_s), 0, [], 0, 0.0
    sample_p = (y_all @ weights).clamp_min(1e-8) if cfg.balance == "sampler" else None
    loss_w = weights if cfg.balance == "weighted" else None
    model.train()
    while True:
        t0 = time.perf_counter()
        order = batch_order(n, steps, bs, sample_p, device)

        def batch_at(s: int, order: torch.Tensor = order) -> tuple[torch.Tensor, torch.Tensor]:
            idx = order[s * bs : (s + 1) * bs]
            return x_all[idx], y_all[idx]

        losses.append(classifier_epoch(model, opt, base, batch_at, steps, epoch, planner.epochs, cfg, policy, loss_w))
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_s = time.perf_counter() - t0
        epoch += 1
        if epoch > 1:
            seen, train_s = seen + steps * bs, train_s + epoch_s
        go_on = planner.after_epoch(epoch, epoch_s)
        if progress:
            progress(
                Progress(stage, epoch, planner.epochs, losses[-1], steps * bs / epoch_s, planner.eta(epoch, epoch_s))
            )
        if not go_on:
            break
    rate = seen / train_s if train_s else steps * bs / max(planner.elapsed(), 1e-6)
    return ClassifierResult(model.eval(), epoch, planner.elapsed(), rate, losses, policy.describe())


@torch.no_grad()
def predict_proba(
    model: Classifier,
    images: torch.Tensor,
    size: int,
    device: torch.device,
    corruption: Callable[[torch.Tensor], torch.Tensor] | None = None,
    policy: ComputePolicy | None = None,
) -> np.ndarray:
    """(N, C) class probabilities of the eval view (optionally of a corrupted copy)."""
    model.eval()
    feats = embed(model.backbone, images, size, device, corruption=corruption, policy=policy)
    return F.softmax(model.head(feats).float(), dim=1).cpu().numpy()


__all__ = [
    "UNNAMED",
    "Classifier",
    "ClassifierResult",
    "batch_order",
    "class_weights",
    "classifier_epoch",
    "classifier_optimizer",
    "inject_labels",
    "predict_proba",
    "soft_targets",
    "train_classifier",
]
