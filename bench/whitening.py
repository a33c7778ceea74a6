"""Whitening the phase-1 feature bank, over several seeds: the shipped backbone's frozen features as they
are (L2-normalized) against ``samx_ml.clustering.Whitening`` at a few widths, through k-means, SCAN and
SCAN + self-labeling, on the dev protocol (fit on the 70 % part + unlabeled, scored on the 30 % of
other patients, K from the rule), the `dev` profile, the same split and bank for every seed.

    uv run python bench/gpu/prepare_data.py --size 160 --out /tmp/dev160   # once
    uv run python bench/whitening.py --data /tmp/dev160 [--seeds 5] [--dims 64,128,256]

Prints mean ± sd per variant and the paired difference to the plain bank (same seeds), and writes
``bench/results/whitening.json``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "gpu"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from run_method import cluster_scores, load_data  # noqa: E402
from samx_ml.clustering import FeatureBank, Whitening, assign, self_label, train_scan  # noqa: E402
from samx_ml.k_rule import choose_k  # noqa: E402
from samx_ml.neighbors import mine_neighbors, neighbor_accuracy  # noqa: E402
from samx_ml.pretext import embed  # noqa: E402
from samx_ml.pretrained import resolve_init, shipped_model  # noqa: E402
from samx_ml.profiles import get_profile  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402

METHODS = ("kmeans", "scan", "self-label")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / ".gpu" / "data")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--dims", default="64,128,256", help="whitened widths to compare with the plain bank")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "whitening.json")
    args = ap.parse_args()
    profile, dev = get_profile("dev"), torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_data(args.data, profile.pretext.image_size, False)
    x_fit, x_test = data["images"][data["fit"]], data["images"][data["test"]]
    fit_y, test_y = data["labels"].subset(data["fit"]), data["labels"].subset(data["test"])
    k, size, cfg = choose_k(len(x_fit), profile.scan.n_clusters), profile.pretext.image_size, profile.scan
    backbone = shipped_model(resolve_init(None)).backbone.eval()
    torch.manual_seed(0)
    started = time.perf_counter()
    # feature_bank's views, computed once here and whitened at every width (feature_bank would embed again)
    views = [embed(backbone, x_fit, size, dev)]
    views += [embed(backbone, x_fit, size, dev, augment=cfg.augment) for _ in range(cfg.n_views - 1)]
    raw, raw_test = torch.stack(views), embed(backbone, x_test, size, dev)
    print(f"fit {len(x_fit)}, test {len(x_test)}, K={k}; bank of {cfg.n_views} views in "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    banks = {"plain": FeatureBank(F.normalize(raw, dim=-1), None)}
    for dims in (int(d) for d in args.dims.split(",")):
        whitening = Whitening.fit(raw[0], dims)
        banks[f"whitened {dims}"] = FeatureBank(whitening(raw), whitening)
    results: dict = {"k": k, "n_fit": len(x_fit), "n_test": len(x_test), "seeds": args.seeds, "variants": {}}
    for name, bank in banks.items():
        test_f, fit_f = bank.features_of(raw_test), bank.views[0]
        neighbors = mine_neighbors(fit_f, cfg.n_neighbors)
        runs: dict[str, list[dict]] = {method: [] for method in METHODS}
        for seed in range(args.seeds):
            km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(fit_f.numpy())
            runs["kmeans"].append(cluster_scores(km.labels_, km.predict(test_f.numpy()), fit_y, test_y, k)[0])
            scan = train_scan(bank.views, neighbors, k, cfg, seed=seed)
            runs["scan"].append(_scores(scan.head(), fit_f, test_f, fit_y, test_y, k))
            tuned = self_label(scan, bank.views, profile.self_label)  # fine-tunes the head in place: after
            runs["self-label"].append(_scores(tuned.head(), fit_f, test_f, fit_y, test_y, k))
        results["variants"][name] = {"fit_neighbor_acc": neighbor_accuracy(neighbors, fit_y.multi_hot), **runs}
        print(f"{name}: done ({time.perf_counter() - started:.0f} s)", flush=True)
    _print_table(results)
    args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")


def _scores(head: torch.nn.Module, fit_f: torch.Tensor, test_f: torch.Tensor, fit_y, test_y, k: int) -> dict:
    fit_c, test_c = assign(head, fit_f)["cluster"], assign(head, test_f)["cluster"]
    return cluster_scores(fit_c.numpy(), test_c.numpy(), fit_y, test_y, k)[0]


def _figures(runs: list[dict], key: str) -> np.ndarray:
    return np.array([r[key] for r in runs])


def _print_table(results: dict) -> None:
    plain = results["variants"]["plain"]
    print("| bank | fit neighbour acc | " + " | ".join(f"{m}: naming / merged NMI" for m in METHODS) + " |")
    print("| --- | --- |" + " --- |" * len(METHODS))
    for name, variant in results["variants"].items():
        cells = []
        for method in METHODS:
            naming = _figures(variant[method], "naming_acc_suggested")
            nmi = _figures(variant[method], "merged_nmi_suggested")
            cell = f"{naming.mean():.3f}±{naming.std():.3f} / {nmi.mean():.3f}±{nmi.std():.3f}"
            if name != "plain":
                gain = naming - _figures(plain[method], "naming_acc_suggested")
                cell += f" (paired {gain.mean():+.3f}±{gain.std():.3f}, {int((gain > 0).sum())}/{len(gain)} up)"
            cells.append(cell)
        print(f"| {name} | {variant['fit_neighbor_acc']:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
