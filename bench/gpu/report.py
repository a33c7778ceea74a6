"""results.json + a short results.md for run_method.py; every section is optional (a failed stage
leaves its section out instead of breaking the report)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TARGETS = {"merged_nmi_suggested": 0.85, "naming_acc_suggested": 0.95, "top1": 0.966, "top2": 0.996}


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _f(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _phase1_md(p1: dict) -> list[str]:
    cols = [
        "nmi",
        "ari",
        "merged_nmi",
        "merged_nmi_suggested",
        "hungarian_acc",
        "majority_naming_acc",
        "naming_acc_suggested",
        "n_decisions_fit",
    ]
    lines = [
        f"## Phase 1 (fit {p1.get('n_fit')} images, test {p1.get('n_test')}, K={p1.get('k')}, "
        f"decision budget N/20={p1.get('k_max_budget')})",
        "",
        "| method | " + " | ".join(cols) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    rows = [
        ("floor: k-means raw 32x32", p1.get("floor_kmeans_raw32")),
        ("SimCLR + k-means", p1.get("simclr_kmeans")),
        ("SCAN (best head)", (p1.get("scan") or {}).get("scores")),
        ("SCAN + self-label", p1.get("final")),
    ]
    for name, s in rows:
        if s:
            lines.append(f"| {name} | " + " | ".join(_f(s.get(c)) for c in cols) + " |")
    pt = p1.get("pretext", {})
    lines += [
        "",
        f"Pretext: {pt.get('epochs')} epochs in {pt.get('seconds')} s, {pt.get('images_per_s')} "
        f"augmented views/s (forward+backward). Neighbours: {p1.get('neighbors')}. Self-label: {p1.get('self_label')}.",
    ]
    return lines


def _phase2_md(p2: dict) -> list[str]:
    lines = [
        "",
        "## Phase 2 (test part)",
        "",
        f"Injected {p2.get('injected_images')} images, discarded {p2.get('discarded_images')}, "
        f"injected-label accuracy on fit labeled images {_f(p2.get('injected_label_acc_on_fit_labeled'))}.",
        "",
        "| model | top-1 | top-2 | macro F1 | ECE | epochs | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for tag in ("injected", "ceiling"):
        r = p2.get(tag)
        if r:
            lines.append(
                f"| {tag} | {_f(r['top1'])} | {_f(r['top2'])} | {_f(r['macro_f1'])} | {_f(r['ece'])} | "
                f"{r['epochs']} | {r['seconds']} |"
            )
    if "majority_class" in p2:
        lines.append(
            f"| majority class ({p2['majority_class']['class']}) | {_f(p2['majority_class']['top1'])} | | | | | |"
        )
    rob = p2.get("robustness") or {}
    if rob:
        lines += ["", "Robustness (top-1 / top-2):", "", "| corruption | injected | ceiling |", "|---|---|---|"]
        for name, r in rob.items():
            if isinstance(r, dict):
                lines.append(
                    f"| {name} | "
                    + " | ".join(f"{_f(r[t]['top1'])} / {_f(r[t]['top2'])}" for t in ("injected", "ceiling"))
                    + " |"
                )
            else:
                lines.append(f"| {name} | {r} | |")
    if p2.get("balance_ablation"):
        lines += [
            "",
            f"Class-imbalance handling (injected labels): {json.dumps(p2['balance_ablation'], default=_jsonable)}",
        ]
    return lines


def write_report(res: dict, out: Path) -> None:
    (out / "results.json").write_text(json.dumps(res, indent=1, default=_jsonable))
    lines = [
        f"# SAM-X method run: profile {res.get('profile')} on {res.get('device_name')} "
        f"({res.get('wall_s')} s of a {res.get('budget_s')} s budget)",
        "",
    ]
    for section, fn in (("phase1", _phase1_md), ("phase2", _phase2_md)):
        try:
            if section in res:
                lines += fn(res[section])
        except Exception as e:  # noqa: BLE001 - a report must not fail the run
            lines.append(f"({section} report failed: {e!r})")
    if "error" in res:
        lines += ["", "## Error", "", "```", res["error"][-3000:], "```"]
    (out / "results.md").write_text("\n".join(lines) + "\n")
