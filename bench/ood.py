"""OOD benchmark: which score flags non-MSK inputs ``not_msk`` and keeps the dev data's MSK radiographs in.

    uv run python bench/ood.py --out bench/results/ood [--size 96 --epochs 8] [--cache .samx/bench-ood]

1. The dev radiographs (``/work/shared/datasets/unifesp-dev``, labeled) split BY PATIENT: 70 % fit, the
   rest halved (by patient) into ``calibration`` (chooses each score's threshold) and ``evaluation``
   (measures the in-distribution flag rate; target <= 0.05). Decoded and squared exactly as serving does
   (``decode_radiograph`` -> ``to_uint8_square`` -> ``eval_transform``).
2. Phase 2's classifier on the fit part's true labels: the shipped backbone (``samx-rad-v1``) + a new
   head, fine-tuned by samx_ml's ``train_classifier`` (the phase-2 loop the trainer's Ray job runs too),
   ``--size`` px, ``--epochs`` epochs; cached in ``--cache`` so a rerun scores without retraining.
3. The OOD set, all built here, no downloads: pydicom's and pydicom-data's bundled non-radiograph slices
   (CT, MR, US, NM, secondary captures, segmentations; every frame up to 3 per file), blank and constant
   images, noise, rendered text, synthetic "photographs" (colour gradients, shapes, 1/f textures). Each
   goes through the same decoder as a request (PNG bytes or the DICOM file). No non-MSK radiographs:
   every region of the dev data's vocabulary (chest, abdomen, skull and sinus included) is a class SAM-X
   sorts, and ``other`` has no stated content, so none of them is out of distribution by definition.
4. Scores, each thresholded at the same in-distribution rate (``--rate``) on the calibration part: the
   max-softmax baseline (Hendrycks & Gimpel 2017), energy (Liu et al. 2020), and from ``samx_ml.ood``
   Mahalanobis (Lee et al. 2018) on the penultimate features alone and as their layer ensemble (stages
   1-3 activation statistics + penultimate; the default phase 2 stores), and kNN (Sun et al. 2022).
   Prints the figures and writes ``results.json`` (with operating points at 1, 2.5 and 5 %).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from samx_core.imaging import RadiographRejected, decode_radiograph, to_uint8_square
from samx_ml import ood
from samx_ml.backbone import Backbone
from samx_ml.classifier import Classifier, soft_targets, train_classifier
from samx_ml.labelsets import parse_label_sets
from samx_ml.pretrained import resolve_init, shipped_model
from samx_ml.profiles import get_profile
from samx_ml.runtime import Progress
from sklearn.metrics import roc_auc_score

DEV = Path("/work/shared/datasets/unifesp-dev")
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:6.1f}s] {msg}", flush=True)


def part_of(patient: str) -> str:
    """70 % fit, 15 % calibration, 15 % evaluation, by a hash of the patient (stable, no seed to forget)."""
    u = int(hashlib.sha256(patient.encode()).hexdigest()[:8], 16) / 2**32
    return "fit" if u < 0.70 else "calibration" if u < 0.85 else "evaluation"


def load_dev(size: int) -> dict:
    with open(DEV / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["labels"]]
    squares, parts = [], []
    for r in rows:
        pixels = decode_radiograph((DEV / r["image"]).read_bytes()).pixels
        squares.append(to_uint8_square(pixels, size))
        parts.append(part_of(r["patient_id"]))
    return {
        "x": torch.from_numpy(np.stack(squares))[:, None],
        "labels": parse_label_sets([r["labels"] for r in rows]),
        "part": np.array(parts),
    }


def dicom_slices() -> list[tuple[str, np.ndarray]]:
    """(modality, display pixels) of every bundled non-CR/DX image: the serving decoder where it takes the
    file, else pydicom's pixel array scaled to 8 bits (multi-frame, colour, 1-bit files)."""
    from pydicom.data import get_testdata_files

    out = []
    for path in sorted(set(get_testdata_files("*.dcm"))):
        try:
            ds = pydicom.dcmread(path)
            modality = str(getattr(ds, "Modality", "") or "OT")
            if modality in ("CR", "DX") or "PixelData" not in ds:
                continue
            try:
                frames = [decode_radiograph(Path(path).read_bytes()).pixels]
            except RadiographRejected:
                arr = ds.pixel_array
                if arr.ndim == 4 or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
                    arr = arr[:3]
                else:
                    arr = arr[None]
                frames = [_to_uint8(a) for a in arr]
        except Exception:  # noqa: S112 (a file pydicom's examples keep to test its own errors)
            continue
        out += [(modality, f) for f in frames if min(f.shape[:2]) >= 32]
    return out


def _to_uint8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3:
        a = a[..., :3] @ np.array([0.299, 0.587, 0.114])
    lo, hi = np.percentile(a, [0.5, 99.5])
    return (np.clip((a - lo) / max(hi - lo, 1e-9), 0, 1) * 255).round().astype(np.uint8)


def _png(image: Image.Image) -> np.ndarray:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return decode_radiograph(buf.getvalue()).pixels  # what serving would decode from the request


def _pink(rng: np.random.Generator, h: int, w: int, power: float = 2.0) -> np.ndarray:
    """1/f^power noise in [0, 1] (clouds, terrain: statistics of natural images)."""
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    spectrum = (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / np.maximum(
        np.hypot(fy, fx), 1 / max(h, w)
    ) ** (power / 2)
    a = np.real(np.fft.ifft2(spectrum))
    return (a - a.min()) / max(np.ptp(a), 1e-9)


def synthetic(rng: np.random.Generator, n: int) -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    sizes = [(64, 64), (256, 256), (480, 640), (512, 384), (1024, 768)]
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        v = int(rng.integers(0, 256))
        out.append(("blank", np.full((h, w), v, np.uint8)))
        out.append(("near-blank", np.clip(v + rng.normal(0, 2, (h, w)), 0, 255).astype(np.uint8)))
        kind = i % 3
        if kind == 0:
            noise = rng.integers(0, 256, (h, w))
        elif kind == 1:
            noise = rng.normal(128, 50, (h, w))
        else:
            noise = np.asarray(
                Image.fromarray(rng.integers(0, 256, (h, w)).astype(np.uint8)).filter(ImageFilter.GaussianBlur(3))
            )
        out.append(("noise", np.clip(noise, 0, 255).astype(np.uint8)))
        page = Image.new("L", (w, h), 255 if i % 2 == 0 else 0)
        draw, font = ImageDraw.Draw(page), ImageFont.load_default(size=max(10, h // 24))
        words = ["patient", "report", "findings", "normal", "study", "2026", "SAM-X", "lorem", "ipsum", "page"]
        for line in range(0, h, max(12, h // 16)):
            draw.text((8, line), " ".join(rng.choice(words, 8)), fill=0 if i % 2 == 0 else 255, font=font)
        out.append(("text", _png(page)))
        out.append(("photo", _png(_photo(rng, h, w))))
    return out


def _photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A colour "photograph": a sky-to-ground gradient, a 1/f texture, a few filled shapes, a soft blur."""
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    rgb = top * (1 - t) + bottom * t + 90 * (_pink(rng, h, w)[..., None] - 0.5) * rng.uniform(0.3, 1.5, 3)
    image = Image.fromarray(np.clip(np.broadcast_to(rgb, (h, w, 3)), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 8))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        box = [x0, y0, x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))]
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 2))))


def train_or_load(d: dict, size: int, epochs: int, cache: Path) -> Classifier:
    path = cache / f"classifier-{size}px-{epochs}ep.pt"
    fit = d["part"] == "fit"
    classes = d["labels"].classes
    if path.exists():
        log(f"classifier from the cache {path}")
        model = Classifier(Backbone("resnet18"), len(classes))
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    shipped = resolve_init("default")
    assert shipped is not None, "no shipped backbone"
    cfg = replace(get_profile("dev").classifier, image_size=size, epochs=epochs)
    targets = soft_targets(d["labels"].multi_hot[fit])

    def progress(p: Progress) -> None:
        log(f"{p.stage} epoch {p.epoch}/{p.epochs} loss {p.loss:.3f} {p.images_per_s:.0f} img/s")

    run = train_classifier(d["x"][fit], targets, shipped_model(shipped).backbone, cfg, torch.device("cpu"), progress)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(run.model.state_dict(), path)
    return run.model.eval()


def logit_scores(logits: np.ndarray) -> dict[str, np.ndarray]:
    m = logits.max(1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(1, keepdims=True)))[:, 0]
    msp = 1.0 / np.exp(logits - m).sum(1)
    return {"max_softmax": -msp, "energy": -lse}  # negated: higher = farther out, as samx_ml.ood


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench/results/ood"))
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--rate", type=float, default=ood.DEFAULT_IN_FLAG_RATE, help="in-distribution flag rate")
    ap.add_argument("--synthetic", type=int, default=60, help="images of each synthetic kind")
    ap.add_argument("--cache", type=Path, default=Path(".samx/bench-ood"), help="the trained classifier")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    d = load_dev(args.size)
    log(f"dev radiographs: {dict(zip(*np.unique(d['part'], return_counts=True), strict=True))}")
    model = train_or_load(d, args.size, args.epochs, args.cache)
    ood_set = dicom_slices() + synthetic(np.random.default_rng(0), args.synthetic)
    groups = np.array(
        [g if g in ("blank", "near-blank", "noise", "text", "photo") else f"dicom-{g}" for g, _ in ood_set]
    )
    log(f"OOD set: {dict(zip(*np.unique(groups, return_counts=True), strict=True))}")
    x_ood = torch.from_numpy(np.stack([to_uint8_square(p, args.size) for _, p in ood_set]))[:, None]
    f_dev, z_dev = ood.features_of(model, d["x"], args.size)
    f_ood, z_ood = ood.features_of(model, x_ood, args.size)
    fit, cal, ev = (d["part"] == p for p in ("fit", "calibration", "evaluation"))
    y_fit = d["labels"].primary[fit]
    top1 = float(d["labels"].multi_hot[ev][np.arange(ev.sum()), z_dev[ev].argmax(1)].mean())
    log(f"classifier top-1 on the evaluation part: {top1:.3f}")

    dims = ood.block_dims(model)
    detectors = {
        "mahalanobis_layers": ood.fit_mahalanobis(f_dev[fit], y_fit, dims),
        "mahalanobis": ood.fit_mahalanobis(f_dev[fit], y_fit, dims, layers=False),
        **{f"knn_k{k}": ood.fit_knn(f_dev[fit], dims, k) for k in (1, 5, 20)},
    }
    # the layer ensemble's blocks are standardised on the calibration part, as phase 2 does on its hold-out
    detectors["mahalanobis_layers"] = detectors["mahalanobis_layers"].calibrated(f_dev[cal], args.rate)
    scores_dev = {**logit_scores(z_dev), **{n: det.score(f_dev) for n, det in detectors.items()}}
    scores_ood = {**logit_scores(z_ood), **{n: det.score(f_ood) for n, det in detectors.items()}}
    results: dict = {}
    for name in scores_dev:
        threshold = ood.threshold_for_rate(scores_dev[name][cal], args.rate)
        flagged_in = scores_dev[name][ev] > threshold
        flagged_out = scores_ood[name] > threshold
        auroc = roc_auc_score(
            np.r_[np.zeros(ev.sum()), np.ones(len(flagged_out))], np.r_[scores_dev[name][ev], scores_ood[name]]
        )
        results[name] = {
            "threshold": threshold,
            "in_distribution_flagged": float(flagged_in.mean()),
            "ood_flagged": float(flagged_out.mean()),
            "auroc": float(auroc),
            "ood_flagged_by_group": {g: float(flagged_out[groups == g].mean()) for g in sorted(set(groups))},
            "missed_groups": sorted({str(g) for g in groups[~flagged_out]}),
            "operating_points": {
                str(rate): {
                    "in_distribution_flagged": float((scores_dev[name][ev] > t).mean()),
                    "ood_flagged": float((scores_ood[name] > t).mean()),
                }
                for rate in (0.01, 0.025, 0.05)
                for t in [ood.threshold_for_rate(scores_dev[name][cal], rate)]
            },
            "in_flagged_by_label": {
                c: float(flagged_in[d["labels"].primary[ev] == i].mean())
                for i, c in enumerate(d["labels"].classes)
                if (d["labels"].primary[ev] == i).any()
            },
        }
    res = {
        "size": args.size, "epochs": args.epochs, "rate": args.rate, "classifier_top1_evaluation": top1,
        "n": {"fit": int(fit.sum()), "calibration": int(cal.sum()), "evaluation": int(ev.sum()), "ood": len(groups)},
        "ood_groups": dict(zip(*map(lambda a: a.tolist(), np.unique(groups, return_counts=True)), strict=True)),
        "targets": {"ood_flagged_min": 0.95, "in_distribution_flagged_max": 0.05},
        "scores": results, "wall_s": round(time.perf_counter() - T0, 1),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(res, indent=1))
    print(f"\nthresholds at the {1 - args.rate:.3f} quantile of {cal.sum()} calibration radiographs")
    print(f"{'score':<18} {'MSK flagged':>11} {'OOD flagged':>11} {'AUROC':>6}  by group")
    for name, r in results.items():
        by = " ".join(f"{g}={v:.2f}" for g, v in r["ood_flagged_by_group"].items())
        print(f"{name:<18} {r['in_distribution_flagged']:>11.3f} {r['ood_flagged']:>11.3f} {r['auroc']:>6.3f}  {by}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
