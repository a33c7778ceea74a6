"""SimCLR pretext (Chen et al., arXiv:2002.05709) as a Ray Train ``TorchTrainer`` job with DDP.

The model pieces come from ``samx_ml`` unchanged (backbone, projection head, batched augmentations,
NT-Xent); this module only adds the distribution. Ranks get an ``ImageSource`` (object names, not pixels) and
train on their own shard (rank r takes images r, r + W, ...), read batch by batch from a disk-backed
cache (the driver's when the rank shares its node, else one the rank streams from MinIO), so no process
holds the archive in memory. DDP (``prepare_model``) averages the gradients, rank 0 reports progress
(console and Prometheus) and writes a checkpoint every few epochs into the run's storage in MinIO.
A restarted worker group, or a re-run with the same run id, resumes from the last checkpoint.

NT-Xent negatives are the other views of the same rank's batch (no cross-rank gather), as in SCAN's
single-GPU pretext configs.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.fs
import ray
import ray.train
import ray.train.torch
import torch
from samx_ml.augment import AugmentConfig
from samx_ml.backbone import Backbone
from samx_ml.compute import agreed_policy, resolve_policy
from samx_ml.optim import Optimizer
from samx_ml.pretext import pretext_epoch, simclr_optimizer
from samx_ml.pretrained import ShippedBackbone, load_into, shipped_backbones, shipped_model
from samx_ml.profiles import PretextConfig
from samx_ml.runtime import Progress, setup_device
from samx_ml.simclr import SimCLRModel
from torch import nn

from samx_trainer.common.image_cache import ImageSource, remove_cache
from samx_trainer.common.progress import TrainingProgress
from samx_trainer.common.ray_train import fit_torch_job
from samx_trainer.settings import TrainerSettings

STATE_FILE = "pretext.pt"


@dataclass
class PretextRun:
    backbone: Backbone
    epochs: int
    losses: list[float] = field(default_factory=list)
    images_per_s: list[float] = field(default_factory=list)
    checkpoint_path: str = ""
    resumed_at: list[int] = field(default_factory=list)  # epochs a restarted run continued from
    compute: dict = field(default_factory=dict)  # rank 0's ComputePolicy.describe() and thread count


def _simclr_model(cfg: PretextConfig, init: str | None = None) -> SimCLRModel:
    """The pretext model, with the weights of the shipped backbone ``init`` when one is named."""
    model = SimCLRModel(cfg.arch, cfg.proj_hidden, cfg.proj_dim)
    if init is not None:
        load_into(model, shipped_backbones()[init])
    return model


def frozen_pretext(init: ShippedBackbone) -> PretextRun:
    """No pretext at all: the shipped backbone's features as they are (``init_mode=frozen``)."""
    return PretextRun(backbone=shipped_model(init).backbone.eval(), epochs=0, compute={"init_mode": "frozen"})


def _config_from_dict(d: dict) -> PretextConfig:
    d = dict(d)
    augment: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d["augment"].items()}
    d["augment"] = AugmentConfig(**augment)
    return PretextConfig(**d)


def _restore(model: nn.Module, opt: Optimizer) -> tuple[int, list[float], list[float], list[int]]:
    """(next epoch, losses, rates, epochs resumed at) from Ray Train's latest checkpoint, if any."""
    ckpt = ray.train.get_checkpoint()
    if ckpt is None:
        return 0, [], [], []
    with ckpt.as_directory() as d:
        state = torch.load(os.path.join(d, STATE_FILE), map_location="cpu", weights_only=False)
    inner: nn.Module = getattr(model, "module", model)  # the model itself, or inside DDP
    inner.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    return state["epoch"], state["losses"], state["rates"], [*state.get("resumed_at", []), state["epoch"]]


def _epoch_reader(shard: torch.Tensor, perm: torch.Tensor, bs: int, device: torch.device):
    """Step s of the epoch -> the shard's rows perm[s*bs : (s+1)*bs] on the device."""

    def batch_at(s: int) -> torch.Tensor:
        rows = perm[s * bs : (s + 1) * bs].sort().values  # sorted: the cache reads pages in file order
        return shard[rows].to(device, non_blocking=True)

    return batch_at


def train_loop(config: dict) -> None:
    """Per-rank Ray Train loop. config: source (ImageSource of N uint8 images), pretext (dict), ..."""
    cfg = _config_from_dict(config["pretext"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    threads = max(1, int(config.get("threads", 1)))
    torch.set_num_threads(threads)
    torch.manual_seed(config.get("seed", 0) + rank)
    device = ray.train.torch.get_device()
    setup_device(device)
    policy = agreed_policy(resolve_policy(device, config.get("precision", "auto")))
    source: ImageSource = config["source"]
    shard = source.shard(rank, world, Path(config["spool"]))  # (n, 1, S, S) uint8 on disk
    progress: TrainingProgress = config["progress"]
    n_min = len(source) // world  # every rank runs the same number of steps (DDP needs it)
    bs = max(2, min(cfg.batch_size // world, n_min))
    steps = max(1, n_min // bs)
    # Starting weights: the shipped backbone, if the run names one; a checkpoint (restore) overrides them.
    model = ray.train.torch.prepare_model(policy.prepare_module(_simclr_model(cfg, config.get("init"))))
    opt, base_lr = simclr_optimizer(model, cfg, bs * world)
    start, losses, rates, resumed_at = _restore(model, opt)
    if resumed_at and rank == 0:
        print(f"[pretext] resumed from the checkpoint of epoch {start}", flush=True)
    model.train()
    batch_at = None  # each epoch's reader holds the shard too; both are dropped before the shard's file
    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        batch_at = _epoch_reader(shard, torch.randperm(len(shard)), bs, device)
        losses.append(pretext_epoch(model, opt, batch_at, steps, epoch, cfg.epochs, base_lr, cfg, policy))
        epoch_s = time.perf_counter() - t0
        rates.append(steps * bs * world / epoch_s)  # images (each seen as 2 views) per second, all ranks
        metrics = {"epoch": epoch + 1, "loss": losses[-1], "images_per_s": rates[-1], "epoch_s": epoch_s}
        last = epoch + 1 == cfg.epochs
        if rank == 0:
            progress(
                Progress("pretext", epoch + 1, cfg.epochs, losses[-1], rates[-1], (cfg.epochs - epoch - 1) * epoch_s)
            )
        if rank == 0 and ((epoch + 1) % config["checkpoint_every"] == 0 or last):
            with tempfile.TemporaryDirectory() as d:
                inner: nn.Module = getattr(model, "module", model)  # the model itself, or inside DDP
                state = {
                    "model": inner.state_dict(),
                    "optimizer": opt.state_dict(),
                    "epoch": epoch + 1,
                    "losses": losses,
                    "rates": rates,
                    "resumed_at": resumed_at,
                    "arch": cfg.arch,
                    "compute": {**policy.describe(), "threads": threads, "workers": world},
                }
                torch.save(state, os.path.join(d, STATE_FILE))
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))
        else:
            ray.train.report(metrics)
    del shard, batch_at
    remove_cache(source.shard_path(rank, world, Path(config["spool"])))  # only a rank's own copy, if it made one


def run_pretext(
    source: ImageSource,
    cfg: PretextConfig,
    trainer: TrainerSettings,
    run_id: str,
    storage_path: str,
    storage_filesystem: pyarrow.fs.FileSystem | None = None,
    init: ShippedBackbone | None = None,
) -> PretextRun:
    """Train on the Ray cluster ``ray.init`` connected to; checkpoints under ``<storage_path>/pretext/``
    (in the object store: ``storage_fs.archive_storage``)."""
    fit = fit_torch_job(
        train_loop,
        {
            "source": source,
            "spool": str(trainer.spool_dir),
            "progress": TrainingProgress(run_id),
            "pretext": dataclasses.asdict(cfg),
            "checkpoint_every": trainer.checkpoint_every,
            "init": init.name if init is not None else None,
        },
        trainer,
        name="pretext",
        state_file=STATE_FILE,
        storage_path=storage_path,
        storage_filesystem=storage_filesystem,
        checkpoints_kept=2,
    )
    state = fit.state
    model = _simclr_model(cfg)
    model.load_state_dict(state["model"])
    return PretextRun(
        backbone=model.backbone.eval(),
        epochs=state["epoch"],
        losses=state["losses"],
        images_per_s=state["rates"],
        checkpoint_path=fit.checkpoint_uri,
        resumed_at=state.get("resumed_at", []),
        compute=state.get("compute", {}),
    )
