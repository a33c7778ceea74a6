"""Frozen-feature benchmark: does a backbone see more than the pixels do? Seconds on a CPU, before any
phase-1 run: k-NN top-1 and a logistic probe on frozen features of the dev radiographs, for the shipped
backbone, the same network at random initialisation, and the raw pixels (the baseline every ratio is to).

    uv run python bench/gpu/prepare_data.py --size 160     # once: packs .gpu/data
    uv run python bench/features.py [--init default] [--sizes 64,96,128] [--out bench/results/features.json]

Protocol (the one of ``bench/gpu/run_method.py``): references are the labeled images of the 70 % part,
queries the 30 % part (other patients); k-NN is the same similarity-weighted vote (k = 20, cosine / 0.07)
that run_method reports as "k-NN top-1 (frozen features)". Features are the eval view's global average
pool of layer4 (what phase 1 clusters) and of layer3; pixels are area-downsampled to 32 x 32 and centred.
The probe is scikit-learn's logistic regression on L2-normalised features (C = 10, the best of 0.1/1/10
for every row when this was written). Also printed: per-class k-NN hits of the shipped backbone, and its
most frequent confusions. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "gpu"))

from prepare_data import load_images  # noqa: E402
from run_method import _knn_vote  # noqa: E402
from samx_ml import metrics as M  # noqa: E402
from samx_ml.augment import eval_transform  # noqa: E402
from samx_ml.backbone import Backbone  # noqa: E402
from samx_ml.labelsets import parse_label_sets  # noqa: E402
from samx_ml.neighbors import pixel_features  # noqa: E402
from samx_ml.pretrained import resolve_init, shipped_model  # noqa: E402


@torch.no_grad()
def pooled_stages(backbone: Backbone, images: torch.Tensor, size: int) -> dict[str, torch.Tensor]:
    """(N, 1, S, S) uint8 -> {"layer4": (N, 512), "layer3": (N, 256)} global average pools of the eval view."""
    net, l4, l3 = backbone.eval().net, [], []
    for start in range(0, len(images), 256):
        pooled, stages = net.forward_stages(eval_transform(images[start : start + 256], size))
        l4.append(pooled)
        l3.append(stages[-1].mean((2, 3)))
    return {"layer4": torch.cat(l4), "layer3": torch.cat(l3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / ".gpu" / "data")
    ap.add_argument("--init", default="default", help="the shipped backbone (default: the newest)")
    ap.add_argument("--sizes", default="64,96,128", help="eval input sizes (px)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "features.json")
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    torch.manual_seed(0)
    with open(args.data / "meta.csv", newline="") as f:
        meta = list(csv.DictReader(f))
    images = torch.from_numpy(load_images(args.data / "images.npz"))[:, None]
    labels = parse_label_sets([m["labels"] for m in meta])
    fit = np.array([m["split"] == "fit" for m in meta])
    fit_idx, test_idx = np.flatnonzero(fit), np.flatnonzero(~fit)
    fit_y, test_y = labels.subset(fit_idx), labels.subset(test_idx)
    ref = fit_idx[fit_y.labeled]
    ref_hot, ref_primary = fit_y.multi_hot[fit_y.labeled], fit_y.primary[fit_y.labeled]

    def scores(features: torch.Tensor) -> dict[str, float]:
        x = F.normalize(features.float(), dim=1)
        knn = M.topk_accuracy(_knn_vote(x[test_idx], x[ref], ref_hot), test_y.multi_hot, 1)
        probe = LogisticRegression(C=10.0, max_iter=3000).fit(x[ref].numpy(), ref_primary)
        probs = np.zeros((len(test_idx), len(labels.classes)))
        probs[:, probe.classes_] = probe.predict_proba(x[test_idx].numpy())
        return {"knn_top1": knn, "probe_top1": M.topk_accuracy(probs, test_y.multi_hot, 1)}

    shipped = resolve_init(args.init)
    if shipped is None:
        raise SystemExit("no shipped backbone to measure")
    nets = {shipped.name: shipped_model(shipped).backbone, "random init": Backbone(shipped.arch)}
    pixels = pixel_features(images)
    rows = {"raw pixels 32x32": scores(pixels - pixels.mean(0))}
    base = rows["raw pixels 32x32"]
    print(f"{len(ref)} labeled references, {len(test_idx)} queries; baseline {base}", flush=True)
    started = time.perf_counter()
    pooled = {}  # (name, size) -> {layer: features}
    for size in (int(s) for s in args.sizes.split(",")):
        for name, net in nets.items():
            pooled[name, size] = pooled_stages(net, images, size)
            for layer, features in pooled[name, size].items():
                rows[f"{name} {size}px {layer}"] = scores(features)
    print(f"{'features':34s} {'k-NN top-1':>10s} {'/ pixels':>8s} {'probe top-1':>11s} {'/ pixels':>8s}")
    for name, s in rows.items():
        knn, probe = s["knn_top1"], s["probe_top1"]
        print(f"{name:34s} {knn:10.3f} {knn / base['knn_top1']:8.2f} {probe:11.3f} {probe / base['probe_top1']:8.2f}")

    size = shipped.image_size  # where do the shipped features fail? per class, at the size it was trained at
    stages = pooled.get((shipped.name, size)) or pooled_stages(nets[shipped.name], images, size)
    x = F.normalize(stages["layer4"], dim=1)
    pred = _knn_vote(x[test_idx], x[ref], ref_hot).argmax(1)
    hit = test_y.multi_hot[np.arange(len(test_idx)), pred] > 0
    per_class = collections.Counter()
    totals = collections.Counter(labels.classes[c] for c in test_y.primary)
    confusions = collections.Counter()
    for i, c in enumerate(test_y.primary):
        per_class[labels.classes[c]] += int(hit[i])
        if not hit[i]:
            confusions[f"{labels.classes[c]} -> {labels.classes[pred[i]]}"] += 1
    hits = {k: f"{per_class[k]}/{n}" for k, n in totals.most_common()}
    print(f"{shipped.name} {size}px per class (hits/queries): {hits}")
    print(f"most frequent confusions: {confusions.most_common(8)}")
    out = {
        "init": shipped.name,
        "n_references": len(ref),
        "n_queries": len(test_idx),
        "rows": rows,
        "per_class_hits": hits,
        "confusions": confusions.most_common(12),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
