"""SAM-X end to end on the dev radiographs, in one budgeted run: phase 1 (SimCLR -> kNN -> SCAN ->
self-label), scored against the raw-pixel k-means floor, then phase 2 (label injection -> fine-tuned
classifier), scored against the true-label ceiling and the majority-class rate, plus robustness.

Runs on the lent GPU machine, which has torch/torchvision/numpy/scipy/sklearn/PIL but none of our
packages beyond the model code carried in the tree:

    PYTHONPATH=libs/samx-ml/src python3 bench/gpu/run_method.py --data .gpu/data --out $OUT --budget-s 420
    PYTHONPATH=libs/samx-ml/src uv run python bench/gpu/run_method.py --data .gpu/data --out /tmp/s --smoke

The run plans its own time: every stage gets a share of what is left of ``--budget-s`` (minus a margin
and a reserve for evaluation and the report), and the training loops fit their epochs into that share
from the measured epoch time. ``results.json`` and ``results.md`` are written even when a stage fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prepare_data import load_images  # noqa: E402
from report import write_report  # noqa: E402
from samx_ml import metrics as M  # noqa: E402
from samx_ml.classifier import predict_proba, soft_targets, train_classifier  # noqa: E402
from samx_ml.clustering import assign, feature_bank, self_label, train_scan  # noqa: E402
from samx_ml.corruptions import CORRUPTIONS  # noqa: E402
from samx_ml.k_rule import choose_k  # noqa: E402
from samx_ml.labelsets import LabelSets, parse_label_sets  # noqa: E402
from samx_ml.neighbors import mine_neighbors, neighbor_accuracy, pixel_features  # noqa: E402
from samx_ml.pretext import PretextResult, embed, train_pretext  # noqa: E402
from samx_ml.pretrained import resolve_init, shipped_model  # noqa: E402

INIT = {"name": "scratch", "mode": "adapt"}  # --init / --init-mode
from samx_ml.profiles import Profile, get_profile  # noqa: E402
from samx_ml.runtime import Progress, pick_device  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


def progress(p: Progress) -> None:
    log(f"{p.stage} epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} {p.images_per_s:.0f} img/s ETA {p.eta_s:.0f}s")


class Clock:
    """Wall-clock budget: ``share(f)`` is fraction f of what is left before the deadline and the reserve."""

    def __init__(self, budget_s: float, margin: float, reserve_s: float) -> None:
        self.deadline = budget_s * (1 - margin)
        self.reserve_s = reserve_s

    def left(self) -> float:
        return self.deadline - (time.perf_counter() - T0)

    def share(self, fraction: float) -> float:
        return max(1.0, fraction * (self.left() - self.reserve_s))


def load_data(data: Path, size: int, smoke: bool) -> dict:
    import csv

    with open(data / "meta.csv", newline="") as f:
        meta = list(csv.DictReader(f))
    images = torch.from_numpy(load_images(data / "images.npz"))[:, None]  # (N, 1, S, S) uint8
    if images.shape[-1] > 1.5 * size:  # store at most 1.5x the working size: crops stay sharp, ops cheap
        s = round(1.5 * size)
        images = F.interpolate(images.float(), size=(s, s), mode="bilinear", antialias=True).round().byte()
    labels = parse_label_sets([m["labels"] for m in meta])
    fit = np.array([m["split"] == "fit" for m in meta])
    fit_idx, test_idx = np.flatnonzero(fit), np.flatnonzero(~fit)
    if smoke:
        rng = np.random.default_rng(0)
        fit_idx, test_idx = (
            np.sort(rng.choice(fit_idx, 200, replace=False)),
            np.sort(rng.choice(test_idx, 80, replace=False)),
        )
    return {"images": images, "labels": labels, "fit": fit_idx, "test": test_idx}


def cluster_scores(fit_c: np.ndarray, test_c: np.ndarray, fit_y: LabelSets, test_y: LabelSets, k: int) -> dict:
    """Test-part figures; names come from the fit part's labeled members (the labeling suggestions)."""
    lab = fit_y.labeled
    names = M.name_clusters(fit_c[lab], fit_y.multi_hot[lab], k)
    out = M.cluster_report(test_c, test_y.primary, test_y.multi_hot, k)
    out["naming_acc_suggested"] = M.naming_accuracy(test_c, names, test_y.multi_hot)
    out["merged_nmi_suggested"] = M.merged_nmi(test_c, names, test_y.primary)
    out["n_decisions_fit"] = M.n_decisions(fit_c)
    out["named_clusters"] = int((names >= 0).sum())
    return out, names


def kmeans_scores(fit_x: np.ndarray, test_x: np.ndarray, k: int, fit_y: LabelSets, test_y: LabelSets) -> dict:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=3, random_state=0).fit(fit_x)
    return cluster_scores(km.labels_, km.predict(test_x), fit_y, test_y, k)[0]


def phase1(d: dict, prof: Profile, dev: torch.device, clock: Clock, res: dict, only: bool = False) -> dict:
    """Phase 1 on the fit part, scored on the test part; ``only``: no phase 2 follows (pretext gets more)."""
    x_fit, x_test = d["images"][d["fit"]], d["images"][d["test"]]
    fit_y, test_y = d["labels"].subset(d["fit"]), d["labels"].subset(d["test"])
    k = choose_k(len(x_fit), prof.scan.n_clusters)
    res["phase1"] = {"n_fit": len(x_fit), "n_test": len(x_test), "k": k, "k_max_budget": len(x_fit) // 20}
    log(f"fit {len(x_fit)} images ({int(fit_y.labeled.sum())} labeled, labels unused), test {len(x_test)}, K={k}")

    raw_fit, raw_test = pixel_features(x_fit).numpy(), pixel_features(x_test).numpy()
    res["phase1"]["floor_kmeans_raw32"] = kmeans_scores(raw_fit, raw_test, k, fit_y, test_y)
    log(f"floor (k-means raw 32x32): {res['phase1']['floor_kmeans_raw32']}")

    init = resolve_init(INIT["name"])
    res["phase1"]["init"] = {"name": init.name if init else "scratch", "mode": INIT["mode"]}
    if init is not None and INIT["mode"] == "frozen":
        pt = PretextResult(shipped_model(init).backbone.eval(), 0, 0.0, 0.0, [float("nan")])
    else:
        start = shipped_model(init).to(dev) if init is not None else None
        pt = train_pretext(x_fit, prof.pretext, dev, progress, budget_s=clock.share(0.85 if only else 0.62), init=start)
    res["phase1"]["pretext"] = {
        "epochs": pt.epochs,
        "seconds": round(pt.seconds, 1),
        "images_per_s": round(pt.images_per_s, 1),
        "final_loss": pt.losses[-1],
    }
    log(f"pretext: {res['phase1']['pretext']}")

    t = time.perf_counter()
    scan_budget = clock.share(0.8 if only else 0.22)
    size = prof.pretext.image_size
    fitted = feature_bank(pt.backbone, x_fit, size, prof.scan.n_views, prof.scan.augment, dev, prof.scan.whiten_dims)
    bank, test_f = fitted.views, fitted.features_of(embed(pt.backbone, x_test, size, dev))
    nbrs = mine_neighbors(bank[0], min(prof.scan.n_neighbors, len(x_fit) - 1))
    lab = torch.as_tensor(fit_y.labeled, device=dev)
    knn_test = M.topk_accuracy(_knn_vote(test_f, bank[0][lab], fit_y.multi_hot[fit_y.labeled]), test_y.multi_hot, 1)
    res["phase1"]["neighbors"] = {
        "k": nbrs.shape[1],
        "fit_neighbor_acc": neighbor_accuracy(nbrs, fit_y.multi_hot),
        "knn_top1_test": knn_test,
    }
    log(f"neighbours: {res['phase1']['neighbors']}")
    res["phase1"]["simclr_kmeans"] = kmeans_scores(bank[0].cpu().numpy(), test_f.cpu().numpy(), k, fit_y, test_y)
    log(f"SimCLR + k-means: {res['phase1']['simclr_kmeans']}")

    scan = train_scan(bank, nbrs, k, prof.scan, progress, budget_s=0.75 * scan_budget - (time.perf_counter() - t))
    fit_c0 = assign(scan.head(), bank[0])["cluster"].cpu().numpy()
    res["phase1"]["scan"] = {
        "epochs": scan.epochs,
        "seconds": round(scan.seconds, 1),
        "head_losses": scan.head_losses,
        "best_head": scan.best_head,
    }
    res["phase1"]["scan"]["scores"] = cluster_scores(
        fit_c0, assign(scan.head(), test_f)["cluster"].cpu().numpy(), fit_y, test_y, k
    )[0]
    log(f"SCAN: {res['phase1']['scan']}")
    scan = self_label(scan, bank, prof.self_label, progress, budget_s=max(1.0, scan_budget - (time.perf_counter() - t)))
    fit_a, test_a = assign(scan.head(), bank[0]), assign(scan.head(), test_f)
    fit_c, test_c = fit_a["cluster"].cpu().numpy(), test_a["cluster"].cpu().numpy()
    scores, names = cluster_scores(fit_c, test_c, fit_y, test_y, k)
    res["phase1"]["self_label"] = scan.self_label
    res["phase1"]["final"] = scores
    res["phase1"]["final"]["mean_confidence_test"] = float(test_a["confidence"].mean())
    res["phase1"]["cluster_sizes_fit"] = np.bincount(fit_c, minlength=k).tolist()
    log(f"phase 1 final (after self-label {scan.self_label}): {scores}")
    return {
        "backbone": pt.backbone,
        "fit_clusters": fit_c,
        "names": names,
        "k": k,
        "confidence_test": test_a["confidence"].cpu().numpy(),
        "confidence_fit": fit_a["confidence"].cpu().numpy(),
        "fit_embeddings": bank[0].cpu().numpy(),  # what the trainer stores as embeddings.npy
    }


def save_phase1(p1: dict, path: Path) -> None:
    """The backbone and the fit part's clusters and names: phase 2 needs nothing else of phase 1."""
    b = p1["backbone"]
    state = {"arch": b.arch, "state_dict": {k: v.cpu() for k, v in b.state_dict().items()}}
    torch.save({**state, "fit_clusters": p1["fit_clusters"], "names": p1["names"], "k": p1["k"]}, path)


def load_phase1(path: Path) -> dict:
    from samx_ml.backbone import Backbone

    saved = torch.load(path, map_location="cpu", weights_only=False)
    backbone = Backbone(saved["arch"])
    backbone.load_state_dict(saved["state_dict"])
    return {"backbone": backbone.eval(), **{k: saved[k] for k in ("fit_clusters", "names", "k")}}


def _knn_vote(q: torch.Tensor, ref: torch.Tensor, ref_y: np.ndarray, k: int = 20) -> np.ndarray:
    """Similarity-weighted kNN class scores (Nq, C) of normalized queries against labeled references."""
    sim, idx = (q @ ref.t()).topk(min(k, len(ref)), dim=1)
    y = torch.as_tensor(ref_y, dtype=torch.float32, device=q.device)[idx]  # (Nq, k, C)
    return ((sim / 0.07).exp()[..., None] * y).sum(1).cpu().numpy()


def phase2(d: dict, p1: dict, prof: Profile, dev: torch.device, clock: Clock, res: dict) -> None:
    labels, fit_idx, test_idx = d["labels"], d["fit"], d["test"]
    fit_y, test_y = labels.subset(fit_idx), labels.subset(test_idx)
    injected = p1["names"][p1["fit_clusters"]]
    keep = injected >= 0
    c = len(labels.classes)
    targets = np.eye(c, dtype=np.float32)[injected[keep]]
    lab = fit_y.labeled & keep
    inj_acc = M.is_correct(injected[lab], fit_y.multi_hot[lab]).mean() if lab.any() else float("nan")
    res["phase2"] = {
        "injected_images": int(keep.sum()),
        "discarded_images": int((~keep).sum()),
        "injected_label_acc_on_fit_labeled": float(inj_acc),
        "classes": list(labels.classes),
    }
    log(f"label injection: {keep.sum()} images kept, {(~keep).sum()} discarded, injected-label accuracy {inj_acc:.3f}")
    x_fit, x_test = d["images"][fit_idx], d["images"][test_idx]
    size, cfg = prof.classifier.image_size, prof.classifier

    injected_run = train_classifier(x_fit[keep], targets, p1["backbone"], cfg, dev, progress, clock.share(0.55))
    probs = predict_proba(injected_run.model, x_test, size, dev)
    res["phase2"]["injected"] = _clf_entry(injected_run, probs, test_y, labels)
    inj = res["phase2"]["injected"]
    log(f"phase 2 (injected labels): top1 {inj['top1']:.4f} top2 {inj['top2']:.4f}")

    ceil_cfg = replace(cfg, epochs=injected_run.epochs)  # same schedule, true labels of the fit part's labeled images
    ceiling = train_classifier(
        x_fit[fit_y.labeled],
        soft_targets(fit_y.multi_hot[fit_y.labeled]),
        p1["backbone"],
        ceil_cfg,
        dev,
        progress,
        clock.share(0.9),
        stage="ceiling",
    )
    res["phase2"]["ceiling"] = _clf_entry(ceiling, predict_proba(ceiling.model, x_test, size, dev), test_y, labels)
    ceil = res["phase2"]["ceiling"]
    log(f"ceiling (true labels): top1 {ceil['top1']:.4f} top2 {ceil['top2']:.4f}")
    major = np.bincount(fit_y.primary[fit_y.labeled], minlength=c).argmax()
    res["phase2"]["majority_class"] = {"class": labels.classes[major], "top1": float(test_y.multi_hot[:, major].mean())}

    rob = {}
    for name, fn in CORRUPTIONS.items():
        if clock.left() < 3:
            rob[name] = "skipped: out of time"
            continue
        rob[name] = {}
        for tag, run in (("injected", injected_run), ("ceiling", ceiling)):
            pr = predict_proba(run.model, x_test, size, dev, corruption=fn)
            rob[name][tag] = {
                "top1": M.topk_accuracy(pr, test_y.multi_hot, 1),
                "top2": M.topk_accuracy(pr, test_y.multi_hot, 2),
            }
    res["phase2"]["robustness"] = rob
    log(f"robustness: {json.dumps(rob)}")

    # imbalance handling, measured: the other choices on the same injected labels, if time is left
    res["phase2"]["balance_ablation"] = {
        cfg.balance: {k: res["phase2"]["injected"][k] for k in ("top1", "top2", "macro_f1")}
    }
    for mode in [m for m in ("none", "sampler", "weighted") if m != cfg.balance]:
        if clock.left() - clock.reserve_s < 1.1 * injected_run.seconds:
            res["phase2"]["balance_ablation"][mode] = "skipped: out of time"
            continue
        run = train_classifier(
            x_fit[keep],
            targets,
            p1["backbone"],
            replace(ceil_cfg, balance=mode),
            dev,
            progress,
            clock.left() - clock.reserve_s,
            stage=f"phase2-{mode}",
        )
        rep = M.classifier_report(
            predict_proba(run.model, x_test, size, dev), test_y.primary, test_y.multi_hot, list(labels.classes)
        )
        res["phase2"]["balance_ablation"][mode] = {k: rep[k] for k in ("top1", "top2", "macro_f1")}
        log(f"balance={mode}: {res['phase2']['balance_ablation'][mode]}")


def _clf_entry(run, probs: np.ndarray, test_y: LabelSets, labels: LabelSets) -> dict:
    rep = M.classifier_report(probs, test_y.primary, test_y.multi_hot, list(labels.classes))
    rep.update(epochs=run.epochs, seconds=round(run.seconds, 1), images_per_s=round(run.images_per_s, 1))
    return rep


def smoke_profile(prof: Profile) -> Profile:
    return replace(
        prof,
        pretext=replace(prof.pretext, image_size=32, epochs=2, batch_size=64),
        scan=replace(prof.scan, epochs=20, n_views=3),
        self_label=replace(prof.self_label, epochs=3),
        classifier=replace(prof.classifier, image_size=32, epochs=2, batch_size=64),
    )


def main(argv: list[str] | None = None, phase1_only: bool = False, default_profile: str = "gpu") -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".gpu/data"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget-s", type=float, default=420)
    ap.add_argument("--profile", default=default_profile)
    ap.add_argument("--device", default=None)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, seconds per stage (CPU check)")
    ap.add_argument("--init", default="scratch", help="phase 1's start: scratch or a shipped backbone")
    ap.add_argument("--init-mode", default="adapt", choices=("adapt", "frozen"))
    args = ap.parse_args(argv)
    INIT.update(name=args.init, mode=args.init_mode)
    args.out.mkdir(parents=True, exist_ok=True)
    prof = get_profile(args.profile)
    budget = 200.0 if args.smoke and args.budget_s == 420 else args.budget_s
    if args.smoke:
        prof = smoke_profile(prof)
    dev = pick_device(args.device)
    clock = Clock(budget, margin=0.06, reserve_s=4 if args.smoke else 15)
    res: dict = {
        "profile": prof.name,
        "smoke": args.smoke,
        "budget_s": budget,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "config": asdict(prof),
        "init": {"name": args.init, "mode": args.init_mode},
    }
    log(f"{res['device_name']} torch {torch.__version__} profile {prof.name} budget {budget}s")
    ok = False
    try:
        torch.manual_seed(0)
        d = load_data(args.data, prof.pretext.image_size, args.smoke)
        log(f"data {tuple(d['images'].shape)} loaded")
        p1 = phase1(d, prof, dev, clock, res, only=phase1_only)
        if phase1_only:  # what bench/phase2_cpu.py --phase1 DIR continues from
            save_phase1(p1, args.out / "phase1.pt")
        else:
            phase2(d, p1, prof, dev, clock, res)
        ok = True
    except Exception:  # keep what was measured
        res["error"] = traceback.format_exc()
        log(res["error"])
    res["wall_s"] = round(time.perf_counter() - T0, 1)
    try:
        write_report(res, args.out)
        log(f"wrote {args.out / 'results.json'} and results.md ({res['wall_s']}s)")
    except Exception:
        traceback.print_exc()
        (args.out / "results.json").write_text(json.dumps(res, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
