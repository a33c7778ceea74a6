"""Robustness benchmark: do frame trimming (preprocessing) and zoom-out (augmentation) keep the phase-2
classifier right on radiographs from other sites (framed, letterboxed, other exposure), at no cost on
clean ones?

    uv run python bench/gpu/prepare_data.py     # once: packs .gpu/data (70/30 split BY PATIENT)
    uv run python bench/robustness.py [--profile dev] [--epochs 12] [--zoom-out-p 0.3]

Trains the profile's phase-2 classifier (``samx_ml.classifier.train_classifier``, the code the trainer's
Ray Train workers run, here in one process) once per variant, with the same seed, schedule and
from-scratch ResNet, on the 70 % part's TRUE labels:

- ``baseline``: the images as packed (letterboxed squares), no zoom-out: the pipeline before both;
- ``zoom-out``: the same images, zoom-out views in training (``AugmentConfig.p_zoom_out``);
- ``trim``: every image through ``to_uint8_square(..., trim_frame=True)`` first, as the trainer and
  serving do with ``SAMX_TRAINER_TRIM_FRAME`` (the default); a corrupted test copy is trimmed after the
  corruption, as a framed radiograph arriving at serving would be;
- ``trim+zoom-out``: both.

Each is scored on the 30 % part (held-out patients), clean and under every corruption of
``samx_ml.corruptions``; prints top-1 / top-2 per corruption and each variant's ratio to the baseline,
and writes ``--out`` (JSON). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from phase2_cpu import scores  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress as Bar  # noqa: E402
from rich.table import Table  # noqa: E402
from run_method import load_data  # noqa: E402
from samx_core.imaging import to_uint8_square  # noqa: E402
from samx_ml.augment import to_float  # noqa: E402
from samx_ml.backbone import Backbone  # noqa: E402
from samx_ml.classifier import predict_proba, train_classifier  # noqa: E402
from samx_ml.corruptions import CORRUPTIONS  # noqa: E402
from samx_ml.profiles import get_profile  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("baseline", "zoom-out", "trim", "trim+zoom-out")


def trimmed(images: torch.Tensor) -> torch.Tensor:
    """uint8 or float [0, 1] (N, 1, S, S) -> the same through the product's frame trim, as uint8."""
    if images.dtype != torch.uint8:
        images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    size = images.shape[-1]
    out = [to_uint8_square(im[0].numpy(), size, trim_frame=True) for im in images]
    return torch.from_numpy(np.stack(out))[:, None]


def then_trim(corruption):
    """A corruption followed by the trim: what serving does to a corrupted radiograph it receives."""
    return lambda x: to_float(trimmed(corruption(x) if corruption else x))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / ".gpu" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "robustness.json")
    ap.add_argument("--profile", default="dev")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--zoom-out-p", type=float, default=0.3, help="probability of a zoomed-out training view")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="the first is the baseline")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    prof = get_profile(args.profile)
    base = replace(prof.classifier, epochs=args.epochs, augment=replace(prof.classifier.augment, p_zoom_out=0.0))
    zoomed = replace(base, augment=replace(base.augment, p_zoom_out=args.zoom_out_p))
    d = load_data(args.data, base.image_size, smoke=False)
    labels = d["labels"]
    fit_y, test_y = labels.subset(d["fit"]), labels.subset(d["test"])
    present = np.flatnonzero(fit_y.multi_hot[fit_y.labeled].any(0))
    y = fit_y.multi_hot[fit_y.labeled][:, present].astype(np.float32)
    y /= y.sum(1, keepdims=True)
    x_fit, x_test = d["images"][d["fit"]][fit_y.labeled], d["images"][d["test"]]
    cpu = torch.device("cpu")
    res: dict = {"profile": prof.name, "epochs": args.epochs, "image_size": base.image_size,
                 "zoom_out": {"p": args.zoom_out_p, "area": list(zoomed.augment.zoom_out)},
                 "fit_images": len(x_fit), "test_images": len(x_test), "runs": {}}  # fmt: skip
    for name in args.variants:
        cfg, trim = (zoomed if "zoom-out" in name else base), name.startswith("trim")
        with Bar(console=console, transient=True) as bar:
            task = bar.add_task(f"training {name}", total=cfg.epochs)
            t0 = time.perf_counter()
            run = train_classifier(
                trimmed(x_fit) if trim else x_fit, y, Backbone(prof.pretext.arch), cfg, cpu,
                progress=lambda p, task=task, bar=bar: bar.update(task, completed=p.epoch),
            )  # fmt: skip
        table = {}
        for c, fn in {"clean": None, **CORRUPTIONS}.items():
            probs = predict_proba(run.model, x_test, cfg.image_size, cpu, corruption=then_trim(fn) if trim else fn)
            table[c] = scores(probs, present.tolist(), test_y)
        res["runs"][name] = {"seconds": round(time.perf_counter() - t0, 1), "images_per_s": round(run.images_per_s, 1),
                             "scores": table}  # fmt: skip
        console.print(f"{name}: {res['runs'][name]['seconds']:.0f} s, clean top-1 {table['clean']['top1']:.3f}")

    title = f"phase-2 robustness, true labels, {args.epochs} epochs at {base.image_size} px: top-1 / top-2"
    out = Table(title=title)
    out.add_column("test images")
    for name in args.variants:
        out.add_column(name + ("" if name == "baseline" else " (ratio to baseline)"))
    runs = res["runs"]
    for c in runs[args.variants[0]]["scores"]:
        cells = []
        for name in args.variants:
            s, b = runs[name]["scores"][c], runs[args.variants[0]]["scores"][c]
            ratio = "" if name == args.variants[0] else f" ({s['top1'] / max(b['top1'], 1e-9):.2f})"
            cells.append(f"{s['top1']:.3f} / {s['top2']:.3f}{ratio}")
        out.add_row(c, *cells)
    console.print(out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
