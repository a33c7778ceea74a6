"""Backbone benchmark: phase 1 and phase 2 from scratch vs from the shipped backbone (frozen and adapted),
side by side, on the dev protocol (fit on the 70 % part + unlabeled, scored on the 30 % of other patients),
same profile, same split, same wall-clock budget per variant. Each variant is one ``bench/gpu/run_method.py``
run (the same code path as the GPU runs); this script runs them and puts their figures in one table.

    uv run python bench/gpu/prepare_data.py --size 192     # once: packs .gpu/data
    uv run python bench/backbone.py [--budget-s 480] [--profile dev] [--init default]

Writes ``bench/results/backbone/<variant>/`` (each run's results.json and log) and
``bench/results/backbone.md`` / ``backbone.json``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "gpu"))

from run_method import main as run_method  # noqa: E402
from samx_ml.pretrained import resolve_init  # noqa: E402

FIGURES = (  # (label, path in results.json)
    ("k-NN top-1 (frozen features)", ("phase1", "neighbors", "knn_top1_test")),
    ("naming accuracy", ("phase1", "final", "naming_acc_suggested")),
    ("merged NMI", ("phase1", "final", "merged_nmi_suggested")),
    ("NMI (clusters)", ("phase1", "final", "nmi")),
    ("phase-2 top-1 (injected names)", ("phase2", "injected", "top1")),
    ("phase-2 top-2 (injected names)", ("phase2", "injected", "top2")),
    ("true-label ceiling top-1", ("phase2", "ceiling", "top1")),
    ("pretext epochs", ("phase1", "pretext", "epochs")),
)


def _get(d: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _cell(value) -> str:
    """A figure as the markdown table shows it: '-' when missing, three decimals for a float."""
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _robust_mean(res: dict) -> float | None:
    """Mean top-1 over the corruptions, as a fraction of the clean top-1 (bench/robustness.py's figure)."""
    rob, clean = _get(res, ("phase2", "robustness")), _get(res, ("phase2", "injected", "top1"))
    scores = [v["injected"]["top1"] for v in (rob or {}).values() if isinstance(v, dict)]
    return sum(scores) / len(scores) / clean if scores and clean else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=480, help="wall clock per variant (phase 1 + phase 2)")
    ap.add_argument("--profile", default="dev")
    ap.add_argument("--init", default="default", help="the shipped backbone to compare (default: the newest)")
    ap.add_argument("--data", type=Path, default=REPO / ".gpu" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "backbone")
    ap.add_argument("--variants", default="scratch,frozen,adapt")
    args = ap.parse_args()
    shipped = resolve_init(args.init)
    if shipped is None:
        raise SystemExit("no shipped backbone to compare with scratch")
    results = {}
    for variant in args.variants.split(","):
        init, mode = ("scratch", "adapt") if variant == "scratch" else (shipped.name, variant)
        out = args.out / variant
        print(f"== {variant}: init {init} ({mode}), budget {args.budget_s:.0f} s", flush=True)
        started = time.perf_counter()
        argv = ["--data", str(args.data), "--out", str(out), "--budget-s", str(args.budget_s)]
        rc = run_method([*argv, "--profile", args.profile, "--init", init, "--init-mode", mode])
        res = json.loads((out / "results.json").read_text())
        results[variant] = {label: _get(res, path) for label, path in FIGURES}
        results[variant]["corrupted mean / clean"] = _robust_mean(res)
        results[variant]["wall s"] = round(time.perf_counter() - started)
        results[variant]["ok"] = rc == 0
    labels = [label for label, _ in FIGURES] + ["corrupted mean / clean", "wall s"]
    head = f"| figure | {' | '.join(results)} |\n| --- |{' --- |' * len(results)}\n"
    rows = "".join(f"| {label} | {' | '.join(_cell(r[label]) for r in results.values())} |\n" for label in labels)
    table = (
        f"# Backbone: scratch vs `{shipped.name}` (frozen, adapted)\n\n"
        f"Profile `{args.profile}`, {args.budget_s:.0f} s per variant on this machine, dev protocol "
        f"(fit 70 % + unlabeled, scored on the 30 % of other patients); `bench/backbone.py`.\n\n{head}{rows}"
    )
    print(table)
    (args.out.parent / "backbone.md").write_text(table)
    (args.out.parent / "backbone.json").write_text(json.dumps({"init": shipped.name, **results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
