"""Phase-2 figures and the run report: cross-validation and hold-out metrics against the injected
labels (what the radiologist named), the majority-class rate beside them, a confusion-matrix PNG and
a markdown report like phase 1's."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from samx_ml import metrics as M
from samx_ml.labelsets import one_hot_from_primary

from samx_trainer.phase1.report import describe_compute


def classification_metrics(probs: np.ndarray, target: np.ndarray, classes: list[str], majority: int) -> dict:
    """samx_ml's classifier report on single labels (N,) plus the rate of always answering ``majority``."""
    rep = M.classifier_report(probs, target, one_hot_from_primary(target, len(classes)), classes)
    rep["majority_rate"] = float((target == majority).mean())
    rep["n"] = int(len(target))
    return rep


def confusion_png(matrix: list[list[int]], classes: list[str], title: str) -> bytes:
    """Rows = truth, columns = prediction; cells shaded by row share, counts written in."""
    m = np.asarray(matrix, dtype=float)
    n, cell, left, top = len(classes), 34, 130, 40
    img = Image.new("L", (left + n * cell + 10, top + n * cell + 90), 255)
    draw = ImageDraw.Draw(img)
    draw.text((6, 6), f"{title} (rows: truth, columns: prediction)", fill=0)
    share = m / np.clip(m.sum(1, keepdims=True), 1, None)
    for r in range(n):
        draw.text((6, top + r * cell + 11), classes[r][:18], fill=0)
        for c in range(n):
            x0, y0 = left + c * cell, top + r * cell
            shade = int(255 - 200 * share[r, c])
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=shade, outline=160)
            draw.text((x0 + 4, y0 + 11), str(int(m[r, c])), fill=255 if shade < 110 else 0)
    for c in range(n):  # column names, written downwards one character per line would not fit: numbered
        draw.text((left + c * cell + 10, top + n * cell + 4), str(c), fill=0)
    legend = ", ".join(f"{i}={name}" for i, name in enumerate(classes))
    draw.text((6, top + n * cell + 24), legend[:150], fill=0)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _row(name: str, rep: dict) -> str:
    figures = " | ".join(f"{rep[k]:.4f}" for k in ("top1", "top2", "macro_f1", "ece", "majority_rate"))
    return f"| {name} | {rep['n']} | {figures} |"


def _restored(tasks: list[str]) -> list[str]:
    if not tasks:
        return []
    return [f"- restarts: the worker group restarted; {', '.join(tasks)} taken from the checkpoint, not trained again"]


def render_report(summary: dict, cv: dict, holdout: dict, threshold: dict) -> str:
    lines = [
        f"# Phase 2 model `{summary['model_version']}`",
        "",
        f"- phase-1 run `{summary['run_id']}`, label set v{summary['labelset_version']}, "
        f"profile `{summary['profile']}`",
        f"- training set: {summary['n_images']} radiographs in {len(summary['classes'])} classes "
        f"({summary['n_discarded']} of discarded clusters left out, {summary['n_undecided']} undecided, "
        f"{summary.get('n_excluded', 0)} excluded by the radiologist, {summary['n_skipped']} unreadable; "
        f"{summary.get('n_placed', 0)} placed in a split's part or moved); "
        f"not-msk class: {summary['not_msk_class'] or 'none'}",
        f"- {summary['k']}-fold cross-validation grouped by patient ({summary['n_groups']} groups) + hold-out of "
        f"{holdout['n']} radiographs; {summary['epochs']} epochs per model on {summary['num_workers']} Ray Train "
        f"worker(s), {summary['images_per_s']:.1f} images/s, balance `{summary['balance']}`",
        f"- compute: {describe_compute(summary.get('compute') or {})}",
        *_restored(summary.get("restored_tasks") or []),
        f"- uncertain threshold {threshold['threshold']:.3f}: accuracy {threshold['accuracy_above']:.3f} on the "
        f"{100 * threshold['coverage']:.0f}% of validation predictions at or above it "
        f"(target {'met' if threshold['target_met'] else 'not met'})",
        f"- wall time: {summary['seconds']:.0f} s",
        "",
        "Metrics are against the injected labels (the cluster names).",
        "",
        "| part | n | top-1 | top-2 | macro F1 | ECE | majority rate |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        _row("cross-validation (out of fold)", cv),
        _row("hold-out (final model)", holdout),
        "",
        "![confusion, hold-out](confusion_holdout.png) ![confusion, cross-validation](confusion_cv.png)",
        "",
        "## Per class (hold-out)",
        "",
        "| class | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, f in holdout["per_class"].items():
        lines.append(f"| {name} | {f['precision']:.3f} | {f['recall']:.3f} | {f['f1']:.3f} | {int(f['support'])} |")
    return "\n".join(lines) + "\n"
