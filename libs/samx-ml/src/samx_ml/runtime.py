"""Device, progress reporting and wall-clock epoch planning shared by the loops (precision and layout:
``samx_ml.compute``)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset


@dataclass(frozen=True)
class Progress:
    stage: str
    epoch: int
    epochs: int
    loss: float
    images_per_s: float
    eta_s: float


ProgressFn = Callable[[Progress], None]


def print_progress(p: Progress) -> None:
    print(
        f"[{p.stage}] epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} {p.images_per_s:.0f} img/s ETA {p.eta_s:.0f}s",
        flush=True,
        file=sys.stderr,
    )


def pick_device(name: str | None = None) -> torch.device:
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup_device(device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def as_image_tensor(data: torch.Tensor | Dataset[torch.Tensor | tuple[torch.Tensor, ...]]) -> torch.Tensor:
    """uint8 images (N, 1, H, W) from a tensor or a Dataset whose items are such images (or (image, ...))."""
    if isinstance(data, torch.Tensor):
        x = data
    else:
        items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        x = torch.stack([it[0] if isinstance(it, tuple | list) else it for it in items])
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected single-channel images (N, 1, H, W), got {tuple(x.shape)}")
    if len(x) == 0:
        raise ValueError("empty data set")
    return x


class EpochPlanner:
    """Fits the number of epochs into a wall-clock budget from the measured epoch time.

    The plan is revised after each of the first three epochs (the first includes cudnn autotuning);
    after that it only shrinks, when an epoch would end past the budget.
    """

    def __init__(self, max_epochs: int, budget_s: float | None) -> None:
        self.epochs = max_epochs
        self.max_epochs = max_epochs
        self.budget_s = budget_s
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def after_epoch(self, done: int, epoch_s: float) -> bool:
        """Record epoch ``done`` (1-based) that took ``epoch_s``; True while training should go on."""
        if self.budget_s is not None:
            left = self.budget_s - self.elapsed()
            fit = done + max(0, math.floor(left / max(epoch_s, 1e-6)))
            if done <= 3:
                self.epochs = max(done, min(self.max_epochs, fit))
            elif fit < self.epochs:
                self.epochs = max(done, fit)
        return done < self.epochs

    def eta(self, done: int, epoch_s: float) -> float:
        return (self.epochs - done) * epoch_s


def warmup_cosine(progress: float, warmup: float) -> float:
    """LR multiplier at ``progress`` in [0, 1]: linear warm-up then cosine to 0."""
    if progress < warmup:
        return progress / max(warmup, 1e-8)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / max(1 - warmup, 1e-8))))
