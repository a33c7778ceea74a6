"""SimCLR pretext training and embedding extraction (phase 1, SCAN step 1).

Chen et al., arXiv:2002.05709; as used by SCAN (Van Gansbeke et al., arXiv:2005.12320, section 2.1).
Images are uint8 tensors (N, 1, H, W) moved to the device once; augmentations run batched on the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from samx_ml.augment import AugmentConfig, eval_transform, random_view
from samx_ml.backbone import Backbone
from samx_ml.compute import ComputePolicy, resolve_policy
from samx_ml.optim import SGD, Optimizer
from samx_ml.profiles import PretextConfig
from samx_ml.runtime import EpochPlanner, Progress, ProgressFn, as_image_tensor, setup_device, warmup_cosine
from samx_ml.simclr import SimCLRModel, nt_xent_loss

BatchAt = Callable[[int], torch.Tensor]  # step s of the epoch -> uint8 images (B, 1, H, W) on the device


@dataclass
class PretextResult:
    backbone: Backbone
    epochs: int
    seconds: float
    images_per_s: float  # images (each seen as 2 augmented views) through forward + backward per second
    losses: list[float] = field(default_factory=list)
    compute: dict[str, object] = field(default_factory=dict)  # ComputePolicy.describe() of what ran


def simclr_batch_loss(
    encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cfg: PretextConfig, policy: ComputePolicy
) -> torch.Tensor:
    """One SimCLR step's loss: two random views of a uint8 batch x (B, 1, H, W) -> encode -> z (2B, D)
    -> NT-Xent (scalar, float32)."""
    v = torch.cat([random_view(x, cfg.image_size, cfg.augment), random_view(x, cfg.image_size, cfg.augment)])
    with policy.autocast():
        z = encode(policy.prepare_batch(v))
    return nt_xent_loss(z[: len(x)], z[len(x) :], cfg.temperature)


def pretext_epoch(
    model: nn.Module,
    opt: Optimizer,
    batch_at: BatchAt,
    steps: int,
    epoch: int,
    epochs: int,
    base_lr: float,
    cfg: PretextConfig,
    policy: ComputePolicy,
) -> float:
    """One SimCLR epoch of ``steps`` batches (warm-up + cosine LR per step); returns the mean loss.

    The one pretext loop: the single-process trainer below and the Ray Train job (each rank on its own
    shard, ``model`` wrapped in DDP) both run it."""
    total = 0.0
    for s in range(steps):
        for group in opt.param_groups:
            group["lr"] = base_lr * warmup_cosine((epoch + s / steps) / epochs, cfg.warmup_frac)
        loss = simclr_batch_loss(model, batch_at(s), cfg, policy)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
    return total / steps


def simclr_optimizer(model: nn.Module, cfg: PretextConfig, global_batch: int) -> tuple[Optimizer, float]:
    """SGD with momentum at SimCLR's linear LR scaling (lr_per_256 x batch / 256); (optimizer, base LR)."""
    base_lr = cfg.lr_per_256 * global_batch / 256
    opt = SGD(model.parameters(), lr=base_lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return opt, base_lr


def train_pretext(
    images: torch.Tensor,
    cfg: PretextConfig,
    device: torch.device,
    progress: ProgressFn | None = None,
    budget_s: float | None = None,
    seed: int = 0,
    precision: str = "auto",
    init: SimCLRModel | None = None,
) -> PretextResult:
    """Train a backbone with SimCLR on uint8 images (N, 1, H, W) in one process; labels are never seen.
    ``init``: the model to go on from (a shipped backbone, ``samx_ml.pretrained``); default a new one."""
    setup_device(device)
    policy = resolve_policy(device, precision)
    torch.manual_seed(seed)
    images = as_image_tensor(images)
    x_all = images.to(device)
    n = len(x_all)
    bs = min(cfg.batch_size, n)
    steps = max(1, n // bs)
    model = policy.prepare_module(init if init is not None else SimCLRModel(cfg.arch, cfg.proj_hidden, cfg.proj_dim))
    opt, base_lr = simclr_optimizer(model, cfg, bs)
    planner = EpochPlanner(cfg.epochs, budget_s)
    losses: list[float] = []
    images_done, train_s, epoch = 0, 0.0, 0
    model.train()
    while True:
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=device)

        def batch_at(s: int, perm: torch.Tensor = perm) -> torch.Tensor:
            return x_all[perm[s * bs : (s + 1) * bs]]

        losses.append(pretext_epoch(model, opt, batch_at, steps, epoch, planner.epochs, base_lr, cfg, policy))
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_s = time.perf_counter() - t0
        epoch += 1
        if epoch > 1:  # the first epoch carries cudnn autotuning: keep it out of the throughput
            images_done += steps * bs
            train_s += epoch_s
        go_on = planner.after_epoch(epoch, epoch_s)
        if progress:
            rate = steps * bs / epoch_s
            progress(Progress("pretext", epoch, planner.epochs, losses[-1], rate, planner.eta(epoch, epoch_s)))
        if not go_on:
            break
    rate = images_done / train_s if train_s > 0 else steps * bs / max(planner.elapsed(), 1e-6)
    return PretextResult(model.backbone.eval(), epoch, planner.elapsed(), rate, losses, policy.describe())


@torch.no_grad()
def embed(
    backbone: torch.nn.Module,
    images: torch.Tensor,
    size: int,
    device: torch.device,
    batch_size: int = 512,
    augment: AugmentConfig | None = None,
    corruption: Callable[[torch.Tensor], torch.Tensor] | None = None,
    policy: ComputePolicy | None = None,
) -> torch.Tensor:
    """Backbone features (N, D) float32 on ``device``, of the eval view (or of a random ``augment`` view).

    ``corruption`` (float [0,1] images -> same) is applied before the eval transform (robustness tests).
    ``policy``: precision and layout of the forward pass; default the fastest measured on ``device``
    (``samx_ml.compute``). The backbone is put into that policy's memory layout (in place).
    """
    policy = policy or resolve_policy(device, "auto")
    backbone = policy.prepare_module(backbone).eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        if corruption is not None:
            x = corruption(x.float() / 255.0 if x.dtype == torch.uint8 else x)
        v = eval_transform(x, size) if augment is None else random_view(x, size, augment)
        with policy.autocast():
            out.append(backbone(policy.prepare_batch(v)).float())
    return torch.cat(out)
