"""The serving model's raw speed on one device: forward (classify) and Grad-CAM (explain) rates by batch
size, and the phase-2 fine-tuning rate, with the same model code serving and training use.

No Ray and no MinIO (the lent GPU machine has neither): this is the ceiling the Ray Serve deployment's
HTTP figures (bench/serving.py) are compared with. Figures: images/s per batch size, the ratio of each to
batch 1, and Grad-CAM's cost relative to a forward pass, measured in the same run.

    PYTHONPATH=libs/samx-ml/src:services/serving/src python3 bench/gpu/serving_model.py --data .gpu/data --out $OUT
    PYTHONPATH=libs/samx-ml/src:services/serving/src uv run python bench/gpu/serving_model.py --data .gpu/data \
        --out /tmp/sm --device cpu --seconds 3 --train-s 20
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare_data import load_images, patient_split  # noqa: E402
from samx_ml import metrics as M  # noqa: E402
from samx_ml.augment import eval_transform  # noqa: E402
from samx_ml.backbone import Backbone  # noqa: E402
from samx_ml.classifier import Classifier, predict_proba, soft_targets, train_classifier  # noqa: E402
from samx_ml.compute import resolve_policy  # noqa: E402
from samx_ml.labelsets import parse_label_sets  # noqa: E402
from samx_ml.profiles import get_profile  # noqa: E402
from samx_ml.runtime import pick_device, setup_device  # noqa: E402
from samx_serving.gradcam import grad_cam  # noqa: E402


def rate(fn, batch: int, seconds: float, device: torch.device) -> float:
    fn()  # warm-up (cudnn autotune, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += batch
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default=None)
    ap.add_argument("--profile", default="gpu")
    ap.add_argument("--seconds", type=float, default=6.0, help="per measured configuration")
    ap.add_argument("--train-s", type=float, default=60.0, help="phase-2 fine-tuning budget")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = pick_device(args.device)
    setup_device(device)
    cfg = get_profile(args.profile).classifier
    images = torch.from_numpy(load_images(args.data / "images.npz"))[:, None]  # (N, 1, S, S) uint8
    rows = list(csv.DictReader((args.data / "meta.csv").open()))
    policy = resolve_policy(device, "auto" if device.type == "cuda" else "fp32")  # as serving runs it
    model = policy.prepare_module(Classifier(Backbone("resnet18"), 22)).eval()
    result: dict = {
        "device": str(torch.cuda.get_device_name() if device.type == "cuda" else "cpu"),
        "image_size": cfg.image_size,
        "forward": {},
        "gradcam": {},
    }

    for batch in (1, 8, 32, 128):
        x = policy.prepare_batch(eval_transform(images[:batch].to(device), cfg.image_size))

        @torch.no_grad()
        def forward(x=x):
            with policy.autocast():
                model(x)

        result["forward"][batch] = rate(forward, batch, args.seconds, device)
        print(f"forward  batch {batch:4d}: {result['forward'][batch]:9.1f} img/s", flush=True)
    for batch in (1, 8, 32):
        x = eval_transform(images[:batch].to(device), cfg.image_size)
        result["gradcam"][batch] = rate(
            lambda x=x: grad_cam(model, x, "backbone.net.layer4"), batch, args.seconds, device
        )
        print(f"gradcam  batch {batch:4d}: {result['gradcam'][batch]:9.1f} img/s", flush=True)
    f1 = result["forward"][1]
    result["forward_ratio_to_batch1"] = {b: r / f1 for b, r in result["forward"].items()}
    result["gradcam_cost_vs_forward"] = {b: result["forward"][b] / r for b, r in result["gradcam"].items()}

    # Phase-2 fine-tuning rate on real radiographs (true labels, from scratch: a speed figure, not the method).
    split = patient_split(rows)
    labeled = [i for i, r in enumerate(rows) if r["labels"]]
    fit = [i for i in labeled if split[i] == "fit"]
    test = [i for i in labeled if split[i] == "test"]
    sets = parse_label_sets([rows[i]["labels"] for i in labeled])
    pos = {i: k for k, i in enumerate(labeled)}
    y = soft_targets(sets.multi_hot)
    trained = train_classifier(
        images[fit], y[[pos[i] for i in fit]], Backbone("resnet18"), cfg, device, budget_s=args.train_s
    )
    probs = predict_proba(trained.model, images[test], cfg.image_size, device)
    mh = sets.multi_hot[[pos[i] for i in test]]
    result["phase2_train"] = {
        "epochs": trained.epochs,
        "seconds": trained.seconds,
        "images_per_s": trained.images_per_s,
        "top1_true_labels_scratch": M.topk_accuracy(probs, mh, 1),
        "top2_true_labels_scratch": M.topk_accuracy(probs, mh, 2),
        "n_fit": len(fit),
        "n_test": len(test),
    }
    print(json.dumps(result["phase2_train"]), flush=True)
    (args.out / "serving_model.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "phase2_train"}, indent=1))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
