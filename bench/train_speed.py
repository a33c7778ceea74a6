"""Training speed per stage: the product's loops against the best bare loop, in one run.

    uv run python bench/gpu/prepare_data.py --size 192   # once: packs .gpu/data (real UNIFESP radiographs)
    uv run python bench/train_speed.py --out bench/results/train-speed.json [--sizes 64 96 128]

For each stage and input size, on the same dev radiographs and settings (ResNet-18, the dev profile's
batch sizes and augmentations):

- **bare**: the tightest loop this script can write, in this process: the images in memory, every core
  to torch, the precision and layout that measure fastest here (``samx_ml.compute``'s probe), no Ray,
  no cache, no schedule, no progress;
- **product**: what SAM-X runs: the Ray Train job (``samx_trainer.phase1.pretext.run_pretext``,
  ``samx_trainer.phase2.train.run_classifier_tasks``) with its default settings (workers, CPUs,
  precision), reading the phase-1 image cache; for feature extraction ``samx_ml.pretext.embed``, which
  the phase-1 job runs for neighbour mining and clustering;
- **before**: at 96 px, the product as it ran before this change (1 CPU per worker, float32, NCHW).

Stages: pretext (SimCLR, two views per image), phase 2 (fine-tuning), features (eval-view forward).
Rates are images per second over the epochs after the first. ``--repeats R`` runs bare and product R times
in turn and reports the median of each and the median of the R paired ratios: on a shared VM the same
bare loop has measured 17 and 22 images/s in two runs minutes apart, more than the gap being measured.
Each rate is also given as achieved FLOP/s against this machine's matmul peak, measured in the same run
(a large fp32 and bf16 matmul).
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # Ray workers use this venv as it is
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))

import numpy as np  # noqa: E402
import ray  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from run_method import load_data  # noqa: E402
from samx_ml.augment import eval_transform, random_view  # noqa: E402
from samx_ml.backbone import Backbone  # noqa: E402
from samx_ml.classifier import Classifier  # noqa: E402
from samx_ml.compute import ComputePolicy, resolve_policy  # noqa: E402
from samx_ml.pretext import embed  # noqa: E402
from samx_ml.profiles import get_profile  # noqa: E402
from samx_ml.simclr import SimCLRModel, nt_xent_loss  # noqa: E402
from samx_trainer.common.image_cache import CacheWriter, ImageSource, fingerprint  # noqa: E402
from samx_trainer.phase1.pretext import run_pretext  # noqa: E402
from samx_trainer.phase2.train import Task, run_classifier_tasks  # noqa: E402
from samx_trainer.settings import TrainerSettings  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

STAGES = ("pretext", "phase2", "features")
FLOPS_PER_FORWARD = {"pretext": 6, "phase2": 3, "features": 1}  # SimCLR: 2 views x (forward + 2x backward)


def matmul_peak(dtype: torch.dtype, n: int, seconds: float = 3.0) -> float:
    """FLOP/s of an (n x n) @ (n x n) matmul in ``dtype``, best of the repeats that fit ``seconds``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def forward_flops(size: int) -> float:
    """FLOPs of one ResNet-18 forward of a (1, 1, size, size) image (counted by torch)."""
    model = Backbone("resnet18").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    return float(counter.get_total_flops())


def steady(rates: list[float]) -> float:
    return float(np.mean(rates[1:] or rates))


def timed_epochs(step, steps: int, batch: int, epochs: int) -> list[float]:
    rates = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for s in range(steps):
            step(s)
        rates.append(steps * batch / (time.perf_counter() - t0))
    return rates


def bare_pretext(images: torch.Tensor, cfg, policy: ComputePolicy, epochs: int) -> list[float]:
    torch.manual_seed(0)
    model = policy.prepare_module(SimCLRModel(cfg.arch, cfg.proj_hidden, cfg.proj_dim)).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    bs = cfg.batch_size

    def step(s: int) -> None:
        x = images[s * bs : (s + 1) * bs]
        v = policy.prepare_batch(torch.cat([random_view(x, cfg.image_size, cfg.augment) for _ in range(2)]))
        with policy.autocast():
            z = model(v)
        loss = nt_xent_loss(z[:bs], z[bs:], cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed_epochs(step, len(images) // bs, bs, epochs)


def bare_finetune(images: torch.Tensor, targets: torch.Tensor, cfg, policy: ComputePolicy, epochs: int) -> list[float]:
    torch.manual_seed(0)
    model = policy.prepare_module(Classifier(Backbone("resnet18"), targets.shape[1])).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    bs = cfg.batch_size

    def step(s: int) -> None:
        v = policy.prepare_batch(random_view(images[s * bs : (s + 1) * bs], cfg.image_size, cfg.augment))
        with policy.autocast():
            logits = model(v)
        loss = F.cross_entropy(logits.float(), targets[s * bs : (s + 1) * bs])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed_epochs(step, len(images) // bs, bs, epochs)


def bare_features(images: torch.Tensor, size: int, policy: ComputePolicy, epochs: int, bs: int = 256) -> list[float]:
    model = policy.prepare_module(Backbone("resnet18")).eval()
    bs = min(bs, len(images))

    @torch.inference_mode()
    def step(s: int) -> None:
        with policy.autocast():
            model(policy.prepare_batch(eval_transform(images[s * bs : (s + 1) * bs], size)))

    return timed_epochs(step, len(images) // bs, bs, epochs)


def product_features(images: torch.Tensor, size: int, epochs: int) -> list[float]:
    backbone = Backbone("resnet18")
    rates = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        embed(backbone, images, size, torch.device("cpu"))
        rates.append(len(images) / (time.perf_counter() - t0))
    return rates


def product_pretext(images: torch.Tensor, cfg, trainer: TrainerSettings, tmp: Path, name: str) -> dict:
    cache, refs = tmp / f"{name}.u8", tuple(("bench", f"{i}.png") for i in range(len(images)))
    writer = CacheWriter(cache, len(images), images.shape[-1])
    for row in images.numpy():
        writer.append(row[0])
    writer.finish(fingerprint(refs, images.shape[-1]))
    source = ImageSource(refs, images.shape[-1], str(cache))  # the ranks map it: one node, as in `samx demo`
    t0 = time.perf_counter()
    run = run_pretext(source, cfg, trainer, name, str(tmp / f"runs-{name}"))
    return {"rates": run.images_per_s, "wall_s": time.perf_counter() - t0, "compute": run.compute}


def product_finetune(images, targets, cfg, trainer: TrainerSettings, tmp: Path, name: str) -> dict:
    every = np.arange(len(images))
    t0 = time.perf_counter()
    (result,) = run_classifier_tasks(
        images, targets, Backbone("resnet18").state_dict(), "resnet18", cfg,
        [Task("final", every, every[:8], keep_weights=False)], trainer, str(tmp / f"runs-{name}"), run_id=name,
    )  # fmt: skip
    return {"rate": result.images_per_s, "wall_s": time.perf_counter() - t0, "compute": result.compute}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".gpu" / "data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    ap.add_argument("--images", type=int, default=256, help="radiographs per epoch")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per measurement (the first is not counted)")
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--repeats", type=int, default=1, help="bare and product in turn, this many times each")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    profile = get_profile("dev")
    res: dict = {"machine": platform.node(), "cores": cores, "torch": torch.__version__, "images": args.images,
                 "epochs": args.epochs, "repeats": args.repeats,
                 "cpu_capability": torch.backends.cpu.get_cpu_capability()}  # fmt: skip
    policy = resolve_policy(torch.device("cpu"), "auto")
    res["policy"] = policy.describe()
    print(f"{cores} cores; fastest policy here: {policy.describe()}", flush=True)
    res["peak_flops"] = {"fp32": matmul_peak(torch.float32, 2048), "bf16": matmul_peak(torch.bfloat16, 1024)}
    print(f"matmul peak: fp32 {res['peak_flops']['fp32'] / 1e9:.0f} GFLOP/s, "
          f"bf16 {res['peak_flops']['bf16'] / 1e9:.0f} GFLOP/s", flush=True)  # fmt: skip
    res["stages"] = {}
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            product = TrainerSettings(checkpoint_every=args.epochs, spool_dir=tmp / "spool")
            before = replace_settings(product, cpus_per_worker=1, precision="fp32")
            for size in args.sizes:
                d = load_data(args.data, size, smoke=False)
                idx = d["fit"][d["labels"].labeled[d["fit"]]][: args.images]
                images = d["images"][idx].contiguous()
                classes = d["labels"].primary[idx]
                targets = torch.from_numpy(np.eye(len(d["labels"].classes), dtype=np.float32)[classes])
                pre = replace(profile.pretext, image_size=size, epochs=args.epochs)
                clf = replace(profile.classifier, image_size=size, epochs=args.epochs)
                fwd = forward_flops(size)
                row: dict = {"forward_gflops_per_image": fwd / 1e9}
                print(f"\n{size} px: {len(images)} radiographs stored at {images.shape[-1]} px", flush=True)
                for rep in range(args.repeats):
                    if "pretext" in args.stages:
                        r = row.setdefault("pretext", {"bares": [], "products": [], "computes": []})
                        r["bares"].append(steady(bare_pretext(images, pre, policy, args.epochs)))
                        p = product_pretext(images, pre, product, tmp, f"pretext-{size}-{rep}")
                        r["products"].append(steady(p["rates"]))
                        r["computes"].append(p["compute"])
                        r["product_wall_s"] = p["wall_s"]
                        if size == 96 and rep == 0:
                            r["before"] = steady(product_pretext(images, pre, before, tmp, "pretext-before")["rates"])
                    if "phase2" in args.stages:
                        r = row.setdefault("phase2", {"bares": [], "products": [], "computes": []})
                        r["bares"].append(steady(bare_finetune(images, targets, clf, policy, args.epochs)))
                        f = product_finetune(images, targets, clf, product, tmp, f"phase2-{size}-{rep}")
                        r["products"].append(f["rate"])
                        r["computes"].append(f["compute"])
                        r["product_wall_s"] = f["wall_s"]
                        if size == 96 and rep == 0:
                            r["before"] = product_finetune(images, targets, clf, before, tmp, "p2-before")["rate"]
                    if "features" in args.stages:
                        r = row.setdefault("features", {"bares": [], "products": []})
                        r["bares"].append(steady(bare_features(images, size, policy, args.epochs)))
                        r["products"].append(steady(product_features(images, size, args.epochs)))
                for stage in args.stages:
                    r, per_image = row[stage], FLOPS_PER_FORWARD[stage] * fwd
                    r["bare"], r["product"] = float(np.median(r["bares"])), float(np.median(r["products"]))
                    ratios = np.array(r["products"]) / np.array(r["bares"])  # paired: each repeat's own
                    r["ratio"], r["ratio_range"] = float(np.median(ratios)), [float(ratios.min()), float(ratios.max())]
                    r["product_gflops_s"] = r["product"] * per_image / 1e9
                    r["mfu_fp32"] = r["product"] * per_image / res["peak_flops"]["fp32"]
                    print(f"  {stage:9s} bare {r['bare']:7.1f} img/s   product {r['product']:7.1f} img/s   "
                          f"ratio {r['ratio']:.2f} ({r['ratio_range'][0]:.2f}-{r['ratio_range'][1]:.2f})   "
                          f"{r['product_gflops_s']:.0f} GFLOP/s "
                          f"({100 * r['mfu_fp32']:.0f}% of fp32 peak)"
                          + (f"   before {r['before']:.1f} img/s" if "before" in r else ""), flush=True)  # fmt: skip
                res["stages"][size] = row
    finally:
        ray.shutdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print_table(res)
    return 0


def replace_settings(settings: TrainerSettings, **changes) -> TrainerSettings:
    return settings.model_copy(update=changes)


def print_table(res: dict) -> None:
    print("\n| stage | px | bare img/s | product img/s | product / bare (range) | GFLOP/s | % of fp32 peak "
          "| before img/s |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size, row in res["stages"].items():
        for stage in (name for name in STAGES if name in row):
            r = row[stage]
            before = f"{r['before']:.1f}" if "before" in r else "-"
            spread = f" ({r['ratio_range'][0]:.2f}-{r['ratio_range'][1]:.2f})" if "ratio_range" in r else ""
            print(f"| {stage} | {size} | {r['bare']:.1f} | {r['product']:.1f} | {r['ratio']:.2f}{spread} | "
                  f"{r['product_gflops_s']:.0f} | {100 * r['mfu_fp32']:.0f} | {before} |")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
