"""One Ray Train ``TorchTrainer`` job as both phases run it: the workers, their CPUs, checkpoints in
the archive's storage, retries after a lost worker, and the last checkpoint's state file read back."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow.fs
import torch

from samx_trainer.common.ray_connection import worker_cpus
from samx_trainer.settings import TrainerSettings


@dataclass(frozen=True)
class FitResult:
    state: dict  # the torch state file of the last checkpoint
    checkpoint_uri: str  # s3://... when the checkpoints went to the object store
    error: BaseException | None  # what ended the job early, if anything (the state says how far it got)


def fit_torch_job(
    train_loop: Callable[[dict], None],
    config: dict[str, Any],
    trainer: TrainerSettings,
    *,
    name: str,
    state_file: str,
    storage_path: str,
    storage_filesystem: pyarrow.fs.FileSystem | None,
    checkpoints_kept: int,
) -> FitResult:
    """Runs ``train_loop(config)`` on ``trainer.num_workers`` workers (GPU when present, else the CPUs
    ``worker_cpus`` gives each, passed on as ``config["threads"]``) and returns what its last checkpoint
    holds; checkpoints under ``<storage_path>/<name>/``. A job that ends without a checkpoint
    raises ``RuntimeError`` with the job's error."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    # Ray Train v2 patches print() in its workers to tee each line into its own logger as well, so every
    # progress line reached the driver's console twice. Read from the driver's environment at fit() and
    # passed on to the controller and the workers; one that sets it otherwise keeps its choice.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    use_gpu = torch.cuda.is_available()
    cpus = worker_cpus(trainer)
    torch_trainer = TorchTrainer(
        train_loop,
        train_loop_config={**config, "threads": cpus, "precision": trainer.precision, "seed": trainer.seed},
        scaling_config=ScalingConfig(
            num_workers=trainer.num_workers,
            use_gpu=use_gpu,
            resources_per_worker=None if use_gpu else {"CPU": cpus},
        ),
        run_config=RunConfig(
            name=name,
            storage_path=storage_path,
            storage_filesystem=storage_filesystem,
            failure_config=FailureConfig(max_failures=trainer.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=checkpoints_kept),
        ),
    )
    result = torch_trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"{name} job ended without a checkpoint: {result.error}")
    with result.checkpoint.as_directory() as d:
        state = torch.load(os.path.join(d, state_file), map_location="cpu", weights_only=False)
    path = result.checkpoint.path
    return FitResult(state, f"s3://{path}" if storage_filesystem is not None else path, result.error)
