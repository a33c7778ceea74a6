"""SimCLR pretext training and embedding extraction (phase 1, SCAN step 1).

Chen et al., arXiv:2002.05709; as used by SCAN (Van Gansbeke et al., arXiv:2005.12320, section 2.1).
Images are uint8 tensors (N, 1, H, W) moved to the device once; augmentations run batched on the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from samx_ml.augment import AugmentConfig, eval_transform, random_view
from samx_ml.backbone import Backbone, build_backbone
from samx_ml.profiles import PretextConfig
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
from samx_ml.simclr import ProjectionHead, nt_xent_loss


@dataclass
class PretextResult:
    backbone: Backbone
    epochs: int
    seconds: float
    images_per_s: float  # augmented views through forward + backward per second (2 per image)
    losses: list[float] = field(default_factory=list)


def simclr_batch_loss(
    encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cfg: PretextConfig, device: torch.device
) -> torch.Tensor:
    """One SimCLR step's loss: two random views of a uint8 batch x (B, 1, H, W) -> encode -> z (2B, D)
    -> NT-Xent (scalar). Shared by the single-process loop here and the Ray Train loop of the trainer."""
    v = torch.cat([random_view(x, cfg.image_size, cfg.augment), random_view(x, cfg.image_size, cfg.augment)])
    if device.type == "cuda":
        v = v.contiguous(memory_format=torch.channels_last)
    with autocast(device):
        z = encode(v)
    return nt_xent_loss(z[: len(x)], z[len(x) :], cfg.temperature)


def train_pretext(
    images: torch.Tensor,
    cfg: PretextConfig,
    device: torch.device,
    progress: ProgressFn | None = None,
    budget_s: float | None = None,
    seed: int = 0,
) -> PretextResult:
    """Train a backbone with SimCLR on uint8 images (N, 1, H, W); labels are never seen."""
    setup_device(device)
    torch.manual_seed(seed)
    images = as_image_tensor(images)
    x_all = images.to(device)
    n = len(x_all)
    bs = min(cfg.batch_size, n)
    steps = max(1, n // bs)
    backbone = to_device(build_backbone(cfg.arch), device)
    head = ProjectionHead(backbone.feature_dim, cfg.proj_hidden, cfg.proj_dim).to(device)
    params = list(backbone.parameters()) + list(head.parameters())
    base_lr = cfg.lr_per_256 * bs / 256
    opt = torch.optim.SGD(params, lr=base_lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    planner = EpochPlanner(cfg.epochs, budget_s)
    losses: list[float] = []
    views_done, train_s, epoch = 0, 0.0, 0
    backbone.train()
    head.train()
    while True:
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=device)
        total = 0.0
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = base_lr * warmup_cosine((epoch + s / steps) / planner.epochs, cfg.warmup_frac)
            loss = simclr_batch_loss(lambda v: head(backbone(v)), x_all[perm[s * bs : (s + 1) * bs]], cfg, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_s = time.perf_counter() - t0
        epoch += 1
        if epoch > 1:  # the first epoch carries cudnn autotuning: keep it out of the throughput
            views_done += 2 * steps * bs
            train_s += epoch_s
        losses.append(total / steps)
        go_on = planner.after_epoch(epoch, epoch_s)
        if progress:
            progress(
                Progress(
                    "pretext", epoch, planner.epochs, losses[-1], 2 * steps * bs / epoch_s, planner.eta(epoch, epoch_s)
                )
            )
        if not go_on:
            break
    rate = views_done / train_s if train_s > 0 else 2 * steps * bs / max(planner.elapsed(), 1e-6)
    return PretextResult(backbone.eval(), epoch, planner.elapsed(), rate, losses)


@torch.no_grad()
def embed(
    backbone: torch.nn.Module,
    images: torch.Tensor,
    size: int,
    device: torch.device,
    batch_size: int = 512,
    augment: AugmentConfig | None = None,
    corruption=None,
) -> torch.Tensor:
    """Backbone features (N, D) float32 on ``device``, of the eval view (or of a random ``augment`` view).

    ``corruption`` (float [0,1] images -> same) is applied before the eval transform (robustness tests).
    """
    backbone.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        if corruption is not None:
            x = corruption(x.float() / 255.0 if x.dtype == torch.uint8 else x)
        v = eval_transform(x, size) if augment is None else random_view(x, size, augment)
        if device.type == "cuda":
            v = v.contiguous(memory_format=torch.channels_last)
        with autocast(device):
            out.append(backbone(v).float())
    return torch.cat(out)
