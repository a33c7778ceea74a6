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
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from samx_ml.augment import random_view
from samx_ml.backbone import Backbone
from samx_ml.metrics import UNNAMED
from samx_ml.pretext import embed
from samx_ml.profiles import ClassifierConfig
from samx_ml.runtime import (
    EpochPlanner,
    Progress,
    ProgressFn,
    as_image_tensor,
    autocast,
    setup_device,
    to_device,
    warmup_cosine,
)


class Classifier(nn.Module):
    """Backbone + linear head: (B, 1, H, W) -> logits (B, C)."""

    def __init__(self, backbone: Backbone, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def inject_labels(clusters: np.ndarray, names: np.ndarray) -> np.ndarray:
    """(N,) cluster of every image, (K,) cluster names -> (N,) class index, ``UNNAMED`` (-1) when discarded."""
    return names[clusters]


def soft_targets(multi_hot: np.ndarray) -> np.ndarray:
    """(N, C) bool -> (N, C) float32 rows summing to 1 (uniform over the image's labels)."""
    t = multi_hot.astype(np.float32)
    return t / np.clip(t.sum(1, keepdims=True), 1, None)


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
) -> ClassifierResult:
    """Fine-tune a copy of ``backbone`` + a new head on uint8 images (N,1,H,W) and soft targets (N, C)."""
    setup_device(device)
    torch.manual_seed(seed)
    images = as_image_tensor(images)
    x_all, y_all = images.to(device), torch.as_tensor(targets, dtype=torch.float32, device=device)
    n, c = y_all.shape
    model = to_device(Classifier(copy.deepcopy(backbone), c), device)
    weights = class_weights(y_all, cfg.balance_power)
    bs = min(cfg.batch_size, n)
    steps = max(1, n // bs)
    groups = [
        {"params": model.backbone.parameters(), "lr": cfg.lr * cfg.backbone_lr_mult},
        {"params": model.head.parameters(), "lr": cfg.lr},
    ]
    base = [g["lr"] for g in groups]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    planner, epoch, losses, seen, train_s = EpochPlanner(cfg.epochs, budget_s), 0, [], 0, 0.0
    sample_p = (y_all @ weights).clamp_min(1e-8) if cfg.balance == "sampler" else None
    loss_w = weights if cfg.balance == "weighted" else None
    if cfg.balance not in ("none", "weighted", "sampler"):
        raise ValueError(f"balance must be none, weighted or sampler, not {cfg.balance!r}")
    model.train()
    while True:
        t0, total = time.perf_counter(), 0.0
        order = (
            torch.multinomial(sample_p, steps * bs, replacement=True)
            if sample_p is not None
            else torch.randperm(n, device=device)
        )
        for s in range(steps):
            for g, b in zip(opt.param_groups, base, strict=True):
                g["lr"] = b * warmup_cosine((epoch + s / steps) / planner.epochs, cfg.warmup_frac)
            idx = order[s * bs : (s + 1) * bs]
            v = random_view(x_all[idx], cfg.image_size, cfg.augment)
            if device.type == "cuda":
                v = v.contiguous(memory_format=torch.channels_last)
            with autocast(device):
                logits = model(v)
            target = y_all[idx] * (1 - cfg.label_smoothing) + cfg.label_smoothing / c
            loss = F.cross_entropy(logits.float(), target, weight=loss_w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_s = time.perf_counter() - t0
        epoch += 1
        if epoch > 1:
            seen, train_s = seen + steps * bs, train_s + epoch_s
        losses.append(total / steps)
        go_on = planner.after_epoch(epoch, epoch_s)
        if progress:
            progress(
                Progress(stage, epoch, planner.epochs, losses[-1], steps * bs / epoch_s, planner.eta(epoch, epoch_s))
            )
        if not go_on:
            break
    rate = seen / train_s if train_s else steps * bs / max(planner.elapsed(), 1e-6)
    return ClassifierResult(model.eval(), epoch, planner.elapsed(), rate, losses)


@torch.no_grad()
def predict_proba(
    model: Classifier, images: torch.Tensor, size: int, device: torch.device, corruption=None
) -> np.ndarray:
    """(N, C) class probabilities of the eval view (optionally of a corrupted copy)."""
    model.eval()
    feats = embed(model.backbone, images, size, device, corruption=corruption)
    return F.softmax(model.head(feats).float(), dim=1).cpu().numpy()


__all__ = [
    "UNNAMED",
    "Classifier",
    "ClassifierResult",
    "class_weights",
    "inject_labels",
    "predict_proba",
    "soft_targets",
    "train_classifier",
]
