"""Precision and memory layout of the training and inference loops, chosen per machine.

bf16 autocast and channels_last are what make a GPU fast (Hopper's tensor cores, cuDNN's NHWC
kernels); on a CPU they help only where oneDNN has bf16 kernels (AVX512-BF16, AMX) and hurt elsewhere.
So the choice is measured, not assumed: ``precision="auto"`` times a few forward + backward steps of a
small residual conv stack in each candidate policy, once per process, and keeps the fastest. A setting
(``bf16`` / ``fp32``) overrides the probe; the run's report and the model manifest record what ran
(:meth:`ComputePolicy.describe`).

Every loop of ``samx_ml`` takes a :class:`ComputePolicy` and uses it in three places: the module
(:meth:`~ComputePolicy.prepare_module`), each input batch (:meth:`~ComputePolicy.prepare_batch`) and
the forward pass (:meth:`~ComputePolicy.autocast`). Losses are computed in float32 outside autocast.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from samx_ml.optim import SGD

PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp32")

M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class ComputePolicy:
    device: torch.device
    bf16: bool
    channels_last: bool
    probe: dict[str, float] | None = None  # images/s of each candidate when the policy was measured

    @property
    def precision(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def prepare_module(self, module: M) -> M:
        module = module.to(self.device)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def prepare_batch(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) on the device, in the layout the module expects."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "device": self.device.type,
            "precision": self.precision,
            "memory_format": "channels_last" if self.channels_last else "contiguous",
        }
        if self.probe:
            out["probe_images_per_s"] = self.probe
        return out


def fp32_policy(device: torch.device) -> ComputePolicy:
    return ComputePolicy(device, bf16=False, channels_last=False)


def resolve_policy(device: torch.device, precision: str = "auto") -> ComputePolicy:
    """The policy for ``device``: ``auto`` measures (CPU) or takes bf16 + channels_last (CUDA with bf16)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if device.type == "cuda":
        bf16 = precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported())
        return ComputePolicy(device, bf16=bf16, channels_last=True)
    if device.type != "cpu":
        return ComputePolicy(device, bf16=precision == "bf16", channels_last=False)
    if precision == "fp32":
        return fp32_policy(device)
    if precision == "bf16":  # asked for, so no probe: oneDNN's bf16 convolutions are its NHWC ones
        return ComputePolicy(device, bf16=True, channels_last=True)
    return _fastest_cpu_policy(device, torch.get_num_threads())


# How much faster NCHW must measure in the probe to be chosen over channels_last. On the AVX2 dev VM
# channels_last made ResNet-18 faster at every real stage and batch (fine-tuning 1.09-1.29x at 64-128 px,
# SimCLR steps 1.02-1.23x, inference 1.41-1.47x), while the probe's small net, timed in a Ray worker
# whose neighbour actors were starting, read NCHW 1.18x faster in one of four runs and channels_last 2.1x
# in another: a near tie is noise, and the wrong pick cost the pretext ~20 % (bench/results/README.md).
CONTIGUOUS_MARGIN = 1.25


def _fastest_cpu_policy(device: torch.device, threads: int) -> ComputePolicy:
    probe = _cpu_probe(threads)
    clearly_nchw = probe["fp32/contiguous"] >= CONTIGUOUS_MARGIN * probe["fp32/channels_last"]
    fp32 = "fp32/contiguous" if clearly_nchw else "fp32/channels_last"
    best = fp32
    bf16 = [name for name in probe if name.startswith("bf16")]
    if bf16:
        fastest_bf16 = max(bf16, key=lambda name: probe[name])
        # bf16 only when clearly faster: a tie is not worth its rounding.
        if probe[fastest_bf16] >= 1.1 * probe[fp32]:
            best = fastest_bf16
    precision, layout = best.split("/")
    return ComputePolicy(device, precision == "bf16", layout == "channels_last", probe)


class _ProbeNet(nn.Module):
    """Conv-BN-ReLU stages shaped like ResNet-18's stem and middle (1 -> 64 -> 128 channels, stride 2 twice)."""

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
            )

        self.net = nn.Sequential(block(1, 64, 2), block(64, 64, 1), block(64, 128, 2), block(128, 128, 1))
        self.head = nn.Linear(128, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.net(x).mean((2, 3)))
        return out


@functools.cache
@torch.enable_grad()  # it times training steps, also when first asked from inside no_grad (embed)
@torch.inference_mode(False)
def _cpu_probe(threads: int) -> dict[str, float]:
    """Images/s of forward + backward + SGD step per candidate policy (batch 32, 64 px). The candidates
    take turns, one step each, for several rounds after a warm-up, and each keeps its best step: a burst
    of other work on the machine (a Ray worker's neighbours starting up) then slows every candidate alike
    instead of deciding the race. Cached per thread count: one measurement per process (1-2 s on 2 cores).
    channels_last wins unless NCHW is clearly faster (``CONTIGUOUS_MARGIN``): on ResNet-18 it measures
    1.1-1.5x here, more than the probe's small net shows."""
    del threads  # the cache key: torch's thread count when measured
    x = torch.rand(32, 1, 64, 64)
    y = torch.randint(0, 16, (32,))
    candidates = {}
    for precision in ("fp32", "bf16"):
        if precision == "bf16" and not _cpu_has_bf16_kernels():
            continue
        for layout in ("contiguous", "channels_last"):
            torch.manual_seed(0)
            policy = ComputePolicy(torch.device("cpu"), precision == "bf16", layout == "channels_last")
            model = policy.prepare_module(_ProbeNet())
            candidates[f"{precision}/{layout}"] = (policy, model, SGD(model.parameters(), lr=0.01))
    best = dict.fromkeys(candidates, float("inf"))
    for round_ in range(6):
        for name, (policy, model, opt) in candidates.items():
            t0 = time.perf_counter()
            with policy.autocast():
                logits = model(policy.prepare_batch(x))
            loss = nn.functional.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if round_ > 0:  # round 0 is the warm-up (oneDNN primitive creation)
                best[name] = min(best[name], time.perf_counter() - t0)
    return {name: round(len(x) / t, 1) for name, t in best.items()}


def _cpu_has_bf16_kernels() -> bool:
    """oneDNN's own answer (native bf16 instructions), where this torch build exposes it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def agreed_policy(policy: ComputePolicy) -> ComputePolicy:
    """Rank 0's policy on every rank of a distributed group (the policy itself where there is none).

    Each rank measures its own policy, and on a busy machine two ranks can measure differently: one in
    channels_last, one not. DDP then refuses the model (parameter strides differ across processes), so
    the ranks adopt rank 0's choice before the model is wrapped."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return policy
    choice = [(policy.bf16, policy.channels_last, policy.probe)]
    dist.broadcast_object_list(choice, src=0)
    bf16, channels_last, probe = choice[0]
    return ComputePolicy(policy.device, bf16, channels_last, probe)
