"""Phase-2 benchmark on this machine's CPU: the method's second half on the dev radiographs, with the
trainer's own phase-2 code (label injection, Ray Train DDP classifier), scored on held-out patients.

    uv run python bench/gpu/prepare_data.py       # once: packs .gpu/data (70/30 split BY PATIENT)
    uv run python bench/phase2_cpu.py --out bench/results/phase2-cpu [--budget-s 2700]
    uv run python bench/phase2_cpu.py --out /tmp/p2 --limit 300 --budget-s 300      # a small run
    uv run python bench/phase2_cpu.py --out DIR --phase1 bench/results/phase1-cpu   # after bench/phase1_cpu.py

1. Phase 1 on the 70% part (SimCLR -> kNN -> SCAN, ``bench/gpu/run_method.py``, single process), or
   with ``--phase1 DIR`` the one ``bench/phase1_cpu.py`` saved there (its backbone, clusters and names).
2. Cluster names from the 70% part's labels, one name per cluster (majority: what a perfect
   radiologist answers; clusters without labeled members are discarded).
3. Phase 2 as the trainer runs it: ``inject_labels`` -> ``run_classifier_tasks`` on local Ray
   (2 DDP workers) from the phase-1 backbone -> scored on the 30% part.
4. Beside it, in the same run: the same network and schedule on the 70% part's TRUE labels (the
   ceiling) and the majority-class rate (the floor); then every model on corrupted copies of the 30%
   part (``samx_ml.corruptions``). Prints the figures and the ratios to both baselines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # Ray workers use this venv as it is
sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))

import numpy as np  # noqa: E402
import ray  # noqa: E402
import torch  # noqa: E402
from run_method import Clock, load_data, load_phase1, phase1  # noqa: E402
from samx_core.archive import LabelSetCluster, LabelSetDocument  # noqa: E402
from samx_ml import metrics as M  # noqa: E402
from samx_ml.backbone import Backbone  # noqa: E402
from samx_ml.classifier import Classifier, predict_proba  # noqa: E402
from samx_ml.corruptions import CORRUPTIONS  # noqa: E402
from samx_ml.profiles import get_profile  # noqa: E402
from samx_trainer.phase2.data import LabelSet, inject_labels  # noqa: E402
from samx_trainer.phase2.train import Task, run_classifier_tasks  # noqa: E402
from samx_trainer.settings import TrainerSettings  # noqa: E402


def train(images, targets, backbone, cfg, trainer, x_eval, storage: str) -> tuple[Classifier, np.ndarray, dict]:
    """One final-model task on Ray Train: the network back on the driver and rank 0's (N_eval, C) scores."""
    idx = np.arange(len(images))
    x = torch.cat([images, x_eval])  # the evaluation images ride along; rank 0 scores them
    task = Task("final", idx, np.arange(len(idx), len(x)), keep_weights=True)
    t0 = time.perf_counter()
    (res,) = run_classifier_tasks(x, targets, backbone.state_dict(), backbone.arch, cfg, [task], trainer, storage)
    model = Classifier(Backbone(backbone.arch), targets.shape[1])
    model.load_state_dict(res.weights)
    run = {"seconds": round(time.perf_counter() - t0, 1), "images_per_s": round(res.images_per_s, 1)}
    return model.eval(), res.probs, run


def scores(probs: np.ndarray, columns: list[int], test_y) -> dict:
    """Top-1/top-2 against the test labels; ``columns`` maps the model's classes into the vocabulary."""
    full = np.zeros((len(probs), len(test_y.classes)), dtype=np.float32)
    full[:, columns] = probs
    rep = M.classifier_report(full, test_y.primary, test_y.multi_hot, list(test_y.classes))
    return {k: round(rep[k], 4) for k in ("top1", "top2", "macro_f1", "ece")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".gpu" / "data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget-s", type=float, default=2700, help="phase 1's wall-clock budget comes from it")
    ap.add_argument("--limit", type=int, default=None, help="at most this many 70%% and 0.4x this many 30%% images")
    ap.add_argument("--profile", default="dev")
    ap.add_argument("--epochs", type=int, default=None, help="phase-2 epochs (default: the profile's)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--phase1", type=Path, default=None, help="a bench/phase1_cpu.py output folder to start from")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    prof = get_profile(args.profile)
    cfg = replace(prof.classifier, epochs=args.epochs or prof.classifier.epochs)
    d = load_data(args.data, prof.pretext.image_size, smoke=False)
    if args.limit:
        rng = np.random.default_rng(0)
        for part, n in (("fit", args.limit), ("test", int(0.4 * args.limit))):
            if len(d[part]) > n:
                d[part] = np.sort(rng.choice(d[part], n, replace=False))
    res: dict = {"profile": prof.name, "limit": args.limit, "budget_s": args.budget_s, "epochs": cfg.epochs}
    t0 = time.perf_counter()
    if args.phase1 is not None:
        if args.limit:
            raise SystemExit("--phase1 continues a full-size phase-1 run: no --limit")
        p1 = load_phase1(args.phase1 / "phase1.pt")
        res["phase1"] = json.loads((args.phase1 / "results.json").read_text())["phase1"]
        res["phase1_from"] = str(args.phase1)
    else:
        clock = Clock(args.budget_s, margin=0.05, reserve_s=0.45 * args.budget_s)  # ~half for phase 2, scoring
        p1 = phase1(d, prof, torch.device("cpu"), clock, res, only=False)

    labels, fit, test = d["labels"], d["fit"], d["test"]
    fit_y, test_y = labels.subset(fit), labels.subset(test)
    names = p1["names"]  # (K,) class index or -1 (no labeled member: discarded)
    doc = LabelSetDocument(
        run_id="bench",
        version=1,
        published_by="bench",
        clusters=[
            LabelSetCluster(cluster=k, label=labels.classes[n] if n >= 0 else None, discarded=n < 0)
            for k, n in enumerate(names)
        ],
    ).model_dump(mode="json")
    assignments = {str(i): int(c) for i, c in enumerate(p1["fit_clusters"])}
    injected = inject_labels(LabelSet.from_document(doc), assignments)
    keep = np.array([int(i) for i in injected.image_ids])
    res["injection"] = {"images": len(keep), "classes": len(injected.classes), "discarded": injected.n_discarded}
    lab = fit_y.labeled[keep]
    hits = M.is_correct(np.array([labels.classes.index(injected.classes[t]) for t in injected.target])[lab],
                        fit_y.multi_hot[keep][lab])  # fmt: skip
    res["injection"]["label_accuracy_on_labeled"] = round(float(hits.mean()), 4)

    ray.init(num_cpus=max(2, args.workers), include_dashboard=False, log_to_driver=True)
    trainer = TrainerSettings(num_workers=args.workers)
    x_fit, x_test = d["images"][fit], d["images"][test]
    models: dict[str, tuple[Classifier, list[int]]] = {}
    probs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as storage:
        y_inj = np.eye(len(injected.classes), dtype=np.float32)[injected.target]
        model, probs["injected"], res["injected_run"] = train(
            x_fit[keep], y_inj, p1["backbone"], cfg, trainer, x_test, storage + "/i"
        )
        models["injected"] = (model, [labels.classes.index(c) for c in injected.classes])
        present = np.flatnonzero(fit_y.multi_hot[fit_y.labeled].any(0))
        y_true = fit_y.multi_hot[fit_y.labeled][:, present].astype(np.float32)
        y_true /= y_true.sum(1, keepdims=True)
        x_lab = x_fit[fit_y.labeled]
        model, probs["ceiling"], res["ceiling_run"] = train(
            x_lab, y_true, p1["backbone"], cfg, trainer, x_test, storage + "/c"
        )
        models["ceiling"] = (model, present.tolist())
    ray.shutdown()

    size, cpu = cfg.image_size, torch.device("cpu")
    for name, (_, cols) in models.items():
        res[name] = scores(probs[name], cols, test_y)
    major = int(np.bincount(fit_y.primary[fit_y.labeled], minlength=len(labels.classes)).argmax())
    res["majority_rate"] = round(float(test_y.multi_hot[:, major].mean()), 4)
    res["ratio_injected_to_ceiling_top1"] = round(res["injected"]["top1"] / max(res["ceiling"]["top1"], 1e-9), 3)
    res["ratio_injected_to_majority_top1"] = round(res["injected"]["top1"] / max(res["majority_rate"], 1e-9), 3)
    res["robustness_top1"] = {
        c: {n: scores(predict_proba(m, x_test, size, cpu, corruption=fn), cols, test_y)["top1"]
            for n, (m, cols) in models.items()}
        for c, fn in CORRUPTIONS.items()
    }  # fmt: skip
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    (args.out / "results.json").write_text(json.dumps(res, indent=1, default=str))
    print(json.dumps({k: v for k, v in res.items() if k not in ("phase1", "config")}, indent=1, default=str))
    print(
        f"phase 2 top-1 {res['injected']['top1']:.3f} (ceiling {res['ceiling']['top1']:.3f}, majority "
        f"{res['majority_rate']:.3f}): {res['ratio_injected_to_ceiling_top1']:.2f}x ceiling, "
        f"{res['ratio_injected_to_majority_top1']:.2f}x majority; {len(fit)} fit / {len(test)} test images"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
