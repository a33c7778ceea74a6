"""Phase-2 classifier training as one Ray Train ``TorchTrainer`` job with DDP (CPU here, GPU when present).

One job runs a list of tasks in order (the cross-validation folds, then the final model): each task
starts from the phase-1 backbone with a new linear head (``samx_ml.classifier.Classifier``; label
injection, Hinterwimmer et al., Eur Radiol 2023) and is fine-tuned on its training indices; rank 0
then predicts the task's evaluation indices. One worker group for all tasks saves its start-up per
fold. Progress (epoch, loss, images/s, ETA) goes to the console and to Prometheus gauges
(``progress.TrainingProgress``); Ray Train hears once per task, when
rank 0 writes a checkpoint (predictions so far; the final task also its weights) into the run's
storage in MinIO, so a restarted worker group continues with the next task.

Per rank: shard r of the task's images (r, r + W, ...), the same number of steps on every rank (DDP
needs it), class balance as ``ClassifierConfig.balance`` says (weighted loss or class-balanced
sampling, weights from the whole task's targets so every rank uses the same).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyarrow.fs
import ray
import ray.train
import ray.train.torch
import torch
from samx_ml.augment import AugmentConfig
from samx_ml.backbone import Backbone
from samx_ml.classifier import (
    Classifier,
    batch_order,
    class_weights,
    classifier_epoch,
    classifier_optimizer,
    predict_proba,
)
from samx_ml.compute import ComputePolicy, agreed_policy, resolve_policy
from samx_ml.profiles import ClassifierConfig
from samx_ml.runtime import Progress, setup_device

from samx_trainer.common.progress import TrainingProgress
from samx_trainer.common.ray_train import fit_torch_job
from samx_trainer.settings import TrainerSettings

STATE_FILE = "phase2.pt"


@dataclass(frozen=True)
class Task:
    name: str  # "fold-1", ..., "final"
    train: np.ndarray  # indices into the image tensor
    evaluate: np.ndarray  # indices rank 0 predicts after training
    keep_weights: bool = False


@dataclass
class TaskResult:
    name: str
    probs: np.ndarray  # (len(evaluate), C)
    losses: list[float]
    images_per_s: float
    seconds: float
    weights: dict[str, torch.Tensor] | None = None
    restored: bool = False  # trained before the worker group restarted, taken from its checkpoint
    compute: dict | None = None  # ComputePolicy.describe() of the rank that trained it, threads, workers


def _config_from_dict(d: dict) -> ClassifierConfig:
    d = dict(d)
    augment: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d["augment"].items()}
    d["augment"] = AugmentConfig(**augment)
    return ClassifierConfig(**d)


def _train_task(
    task: dict, images, targets, backbone_state, arch, cfg, policy: ComputePolicy, rank, world, progress
) -> dict:
    """Fine-tune one model on ``task['train']``; returns (on every rank) what the checkpoint keeps."""
    device = policy.device
    idx = torch.as_tensor(task["train"])
    y_task = targets[idx]
    weights = class_weights(y_task, cfg.balance_power).to(device)
    shard = idx[rank::world]
    x, y = images[shard].to(device), targets[shard].to(device)
    n_min = len(idx) // world
    bs = max(2, min(cfg.batch_size // world, n_min))
    steps = max(1, n_min // bs)
    backbone = Backbone(arch)
    backbone.load_state_dict(backbone_state)
    inner = policy.prepare_module(Classifier(backbone, targets.shape[1]))
    model = ray.train.torch.prepare_model(inner)
    inner = cast(Classifier, model.module if hasattr(model, "module") else model)  # itself, or inside DDP
    opt, base = classifier_optimizer(inner, cfg)
    sample_p = (y @ weights).clamp_min(1e-8) if cfg.balance == "sampler" else None
    loss_w = weights if cfg.balance == "weighted" else None
    losses, rates, t_task = [], [], time.perf_counter()
    model.train()
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        order = batch_order(len(x), steps, bs, sample_p, device)

        def batch_at(s: int, order: torch.Tensor = order) -> tuple[torch.Tensor, torch.Tensor]:
            batch = order[s * bs : (s + 1) * bs]
            return x[batch], y[batch]

        losses.append(classifier_epoch(model, opt, base, batch_at, steps, epoch, cfg.epochs, cfg, policy, loss_w))
        epoch_s = time.perf_counter() - t0
        rates.append(steps * bs * world / epoch_s)
        if rank == 0:
            eta = (cfg.epochs - epoch - 1) * epoch_s
            progress(Progress(f"phase2-{task['name']}", epoch + 1, cfg.epochs, losses[-1], rates[-1], eta))
    out = {
        "losses": losses,
        "images_per_s": float(np.mean(rates[1:] or rates)),
        "seconds": time.perf_counter() - t_task,
    }
    if rank == 0:
        evaluate = images[torch.as_tensor(task["evaluate"])]
        out["probs"] = predict_proba(inner, evaluate, cfg.image_size, device, policy=policy)
        if task["keep_weights"]:
            out["weights"] = {k: v.detach().cpu().contiguous() for k, v in inner.state_dict().items()}
    return out


def train_loop(config: dict) -> None:
    """Per-rank loop over the tasks. config: images/targets (ObjectRefs), backbone (ObjectRef), tasks, ..."""
    cfg = _config_from_dict(config["classifier"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    device = ray.train.torch.get_device()
    setup_device(device)
    policy = agreed_policy(resolve_policy(device, config.get("precision", "auto")))
    images, targets = ray.get(config["images"]), ray.get(config["targets"])
    backbone_state = ray.get(config["backbone"])
    done: dict[str, dict] = {}
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            done = torch.load(os.path.join(d, STATE_FILE), map_location="cpu", weights_only=False)["done"]
        for out in done.values():
            out["restored"] = True
        if rank == 0:
            print(f"[phase2] resumed after {', '.join(done)}", flush=True)
    for i, task in enumerate(config["tasks"]):
        if task["name"] in done:
            continue
        torch.manual_seed(config.get("seed", 0) + 1000 * i + rank)
        out = _train_task(
            task, images, targets, backbone_state, config["arch"], cfg, policy, rank, world, config["progress"]
        )
        out["compute"] = {**policy.describe(), "threads": torch.get_num_threads(), "workers": world}
        done[task["name"]] = out
        metrics = {"task": task["name"], "done": len(done), "loss": out["losses"][-1]}
        if rank == 0:
            with tempfile.TemporaryDirectory() as d:
                torch.save({"done": done}, os.path.join(d, STATE_FILE))
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))
        else:
            ray.train.report(metrics)


def run_classifier_tasks(
    images: torch.Tensor,
    targets: np.ndarray,
    backbone_state: dict[str, torch.Tensor],
    arch: str,
    cfg: ClassifierConfig,
    tasks: list[Task],
    trainer: TrainerSettings,
    storage_path: str,
    storage_filesystem: pyarrow.fs.FileSystem | None = None,
    *,
    run_id: str = "phase2",
) -> list[TaskResult]:
    """Run ``tasks`` on the Ray cluster ``ray.init`` connected to; checkpoints under
    ``<storage_path>/classifier/`` (``<archive bucket>/<prefix>`` with ``storage_fs.archive_storage``)."""
    fit = fit_torch_job(
        train_loop,
        {
            "images": ray.put(images),
            "targets": ray.put(torch.as_tensor(targets, dtype=torch.float32)),
            "backbone": ray.put(backbone_state),
            "arch": arch,
            "classifier": dataclasses.asdict(cfg),
            "tasks": [
                {
                    "name": t.name,
                    "train": t.train.tolist(),
                    "evaluate": t.evaluate.tolist(),
                    "keep_weights": t.keep_weights,
                }
                for t in tasks
            ],
            "progress": TrainingProgress(run_id),
        },
        trainer,
        name="classifier",
        state_file=STATE_FILE,
        storage_path=storage_path,
        storage_filesystem=storage_filesystem,
        checkpoints_kept=1,
    )
    done = fit.state["done"]
    missing = [t.name for t in tasks if t.name not in done]
    if missing:
        raise RuntimeError(f"phase-2 training ended before tasks {missing}: {fit.error}")
    return [
        TaskResult(
            t.name,
            np.asarray(done[t.name]["probs"]),
            done[t.name]["losses"],
            done[t.name]["images_per_s"],
            done[t.name]["seconds"],
            done[t.name].get("weights"),
            done[t.name].get("restored", False),
            done[t.name].get("compute"),
        )
        for t in tasks
    ]
