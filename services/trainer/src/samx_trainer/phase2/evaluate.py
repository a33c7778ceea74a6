"""``samx-trainer evaluate``: score a registered model on any folder with a ``labels.csv``.

``labels.csv`` has an ``image`` column (file name relative to the folder) and ``labels`` (``;`` between
several regions, empty = unlabeled, skipped). Files are decoded with ``decode_radiograph`` and squared
with ``to_uint8_square`` at the manifest's load size: exactly what serving does to a radiograph it
receives. Top-k counts as right when one of the image's labels is among the k most probable classes;
a region the model has no class for can never be hit, so such images count as wrong.
"""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from samx_core.imaging import decode_radiograph, to_uint8_square
from samx_core.labels import LABEL_SEPARATOR, SEED_NAMES, canonical_label
from samx_core.model_registry import ModelRegistry
from samx_ml import metrics as M
from samx_ml.bundle import ModelManifest, load_classifier
from samx_ml.classifier import predict_proba
from samx_ml.labelsets import parse_label_sets
from samx_ml.runtime import pick_device


class EvaluationDataError(ValueError):
    """The folder cannot be scored (no labels.csv, no labeled readable radiographs)."""


def read_folder(folder: Path, size: int, trim_frame: bool = False) -> tuple[torch.Tensor, list[str], dict[str, str]]:
    """(N, 1, size, size) uint8 images, their label strings, and skipped file -> reason."""
    table = folder / "labels.csv"
    if not table.is_file():
        raise EvaluationDataError(f"{folder} has no labels.csv")
    with table.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"image", "labels"} <= set(reader.fieldnames or []):
            raise EvaluationDataError(f"{table} needs the columns 'image' and 'labels'")
        rows = [(r["image"], r["labels"]) for r in reader if (r["labels"] or "").strip()]

    def one(row: tuple[str, str]):
        try:
            decoded = decode_radiograph((folder / row[0]).read_bytes())
            return row, to_uint8_square(decoded.pixels, size, trim_frame=trim_frame), None
        except Exception as exc:  # an unreadable file is reported, not fatal
            return row, None, type(exc).__name__

    pixels, labels, skipped = [], [], {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for (name, label), px, error in pool.map(one, rows):
            if px is None:
                skipped[name] = error or "unknown"
            else:
                pixels.append(px)
                labels.append(label)
    if not pixels:
        raise EvaluationDataError(f"no labeled, readable radiographs in {folder}")
    return torch.from_numpy(np.stack(pixels))[:, None], labels, skipped


def evaluate_model(manifest: ModelManifest, weights: bytes, folder: Path, device: str | None = None) -> dict:
    images, label_strings, skipped = read_folder(folder, manifest.load_size, manifest.trim_frame)
    dev = pick_device(device)
    model = load_classifier(manifest, weights, dev)
    probs = predict_proba(model, images, manifest.image_size, dev)
    # Both sides in samx_core's canonical form: a labels.csv that writes "lumbar_spine" (or "l-spine")
    # scores against the model's "lumbar spine", not as a region the model lacks.
    classes = [canonical_label(c) for c in manifest.classes]
    label_strings = [SEED_NAMES.resolve_set(s) for s in label_strings]
    seen = sorted({p for s in label_strings for p in s.split(LABEL_SEPARATOR) if p})
    vocabulary = classes + [c for c in seen if c not in classes]
    truth = parse_label_sets(label_strings, vocabulary, sep=LABEL_SEPARATOR)
    padded = np.zeros((len(probs), len(vocabulary)), dtype=probs.dtype)  # unknown regions: probability 0
    padded[:, : probs.shape[1]] = probs
    report = M.classifier_report(padded, truth.primary, truth.multi_hot, vocabulary)
    majority = int(truth.multi_hot[:, : len(classes)].sum(0).argmax())
    return {
        "model_version": manifest.version,
        "n_images": len(images),
        "n_skipped": len(skipped),
        "skipped": skipped,
        "top1": report["top1"],
        "top2": report["top2"],
        "macro_f1": report["macro_f1"],
        "ece": report["ece"],
        "majority_rate": float(truth.multi_hot[:, majority].mean()),
        "uncertain_rate": float((probs.max(1) < manifest.uncertain_threshold).mean()),
        "classes_without_model_class": [c for c in seen if c not in classes],
        "per_class": report["per_class"],
        "confusion": {"classes": vocabulary, "matrix": report["confusion"]},
    }


def evaluate_registered(registry: ModelRegistry, version: str, folder: Path, device: str | None = None) -> dict:
    """``version`` may be ``current`` (the promoted one)."""
    if version == "current":
        current = registry.current()
        if current is None:
            raise EvaluationDataError("no model has been promoted yet")
        version = current
    manifest = ModelManifest.from_dict(registry.manifest(version))
    return evaluate_model(manifest, registry.weights(version), folder, device)
