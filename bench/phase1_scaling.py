"""Phase-1 pretext throughput on Ray Train: 1 and 2 DDP workers against the bare loop, in one run.

    uv run python bench/gpu/prepare_data.py          # once: packs .gpu/data (real UNIFESP radiographs)
    uv run python bench/phase1_scaling.py --out bench/results/phase1-scaling.json [--images 1024 --epochs 3]

The same SimCLR step (``samx_ml``: augment two views, ResNet-18, NT-Xent, SGD) three ways on the same
radiographs at the dev profile's 96 px:

- bare: one process, no Ray, the images in memory, all of the machine's cores to torch (the baseline);
- Ray Train, 1 worker with all cores; Ray Train, 2 workers (DDP) splitting the cores. Both read their
  batches from the disk-backed image cache the phase-1 job uses (``samx_trainer.image_cache``), so the
  figures include that cost and Ray's.

Rates are images per second (each image seen as two views) over the epochs after the first (start-up and
the first pass over the cache excluded). Prints a table and writes JSON.
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
from run_method import load_data  # noqa: E402
from samx_ml.pretext import simclr_batch_loss  # noqa: E402
from samx_ml.profiles import get_profile  # noqa: E402
from samx_trainer.image_cache import CacheWriter, ImageSource, fingerprint  # noqa: E402
from samx_trainer.pretext_ray import SimCLRModel, run_pretext  # noqa: E402
from samx_trainer.settings import TrainerSettings  # noqa: E402


def bare_rate(images: torch.Tensor, cfg, epochs: int, threads: int) -> list[float]:
    """The baseline: the pretext step in this process, no Ray, no cache; images/s per epoch."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = SimCLRModel(cfg).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    bs, rates = cfg.batch_size, []
    steps = len(images) // bs
    for _ in range(epochs):
        t0, perm = time.perf_counter(), torch.randperm(len(images))
        for s in range(steps):
            loss = simclr_batch_loss(model, images[perm[s * bs : (s + 1) * bs]], cfg, torch.device("cpu"))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        rates.append(steps * bs / (time.perf_counter() - t0))
        print(f"  bare epoch {len(rates)}: {rates[-1]:.1f} img/s", flush=True)
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".gpu" / "data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    cfg = replace(get_profile("dev").pretext, epochs=args.epochs)
    size, cores = cfg.image_size, os.cpu_count() or 2
    d = load_data(args.data, size, smoke=False)
    fit = d["fit"][: args.images]
    images = torch.nn.functional.interpolate(d["images"][fit].float(), size=(size, size), mode="area").round().byte()
    print(f"{len(images)} radiographs at {size} px, batch {cfg.batch_size}, {cores} cores", flush=True)

    res: dict = {"images": len(images), "image_size": size, "batch_size": cfg.batch_size, "cores": cores,
                 "epochs": args.epochs, "machine": platform.node(), "torch": torch.__version__}  # fmt: skip
    res["bare"] = bare_rate(images, cfg, args.epochs, cores)
    with tempfile.TemporaryDirectory() as tmp:
        cache, refs = Path(tmp) / "images.u8", tuple(("bench", f"{i}.png") for i in range(len(images)))
        writer = CacheWriter(cache, len(images), size)
        for row in images.numpy():
            writer.append(row[0])
        writer.finish(fingerprint(refs, size))
        source = ImageSource(refs, size, str(cache))  # every rank maps it: one node, as in `samx demo`
        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=True)
        try:
            for workers in (1, 2):
                trainer = TrainerSettings(
                    num_workers=workers, cpus_per_worker=cores / workers, checkpoint_every=args.epochs,
                    spool_dir=Path(tmp) / "spool",
                )  # fmt: skip
                print(f"Ray Train, {workers} worker(s) x {cores / workers:g} CPU", flush=True)
                run = run_pretext(source, cfg, trainer, f"scaling-{workers}", str(Path(tmp) / f"runs-{workers}"))
                res[f"ray_{workers}"] = run.images_per_s
        finally:
            ray.shutdown()

    def steady(rates: list[float]) -> float:
        return float(np.mean(rates[1:] or rates))

    bare = steady(res["bare"])
    table = {name: steady(res[name]) for name in ("bare", "ray_1", "ray_2")}
    res["steady_images_per_s"] = {k: round(v, 1) for k, v in table.items()}
    res["ratio_to_bare"] = {k: round(v / bare, 3) for k, v in table.items()}
    res["scaling_1_to_2_workers"] = round(table["ray_2"] / table["ray_1"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print("\n| pretext (SimCLR, ResNet-18, 96 px) | images/s | ratio to bare |\n| --- | --- | --- |")
    labels = {"bare": "bare loop, no Ray", "ray_1": "Ray Train, 1 worker", "ray_2": "Ray Train, 2 workers"}
    for name, label in labels.items():
        print(f"| {label} | {table[name]:.1f} | {table[name] / bare:.2f} |")
    print(f"scaling from 1 to 2 workers: {res['scaling_1_to_2_workers']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
