"""Ground truth for a run's metrics: a ``labels.csv`` handed to the job.

Columns: ``labels`` (``;``-separated region names, empty = unlabeled) and one key column to find the
radiograph: ``image_id``, ``sha256`` (of the file as sent), or ``image`` (a path relative to the CSV's
folder; the file is hashed and matched to the archive records' SHA-256, so a data folder's own
``labels.csv`` works as it is)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from samx_core.labels import LABEL_SEPARATOR, SEED_NAMES
from samx_ml import metrics as M
from samx_ml.labelsets import LabelSets, parse_label_sets


def read_labels(path: Path) -> dict[str, str]:
    """key ('id:<image_id>' or 'sha:<sha256>') -> label string."""
    out: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        cols = set(reader.fieldnames or [])
        if "labels" not in cols or not cols & {"image_id", "sha256", "image"}:
            raise ValueError(f"{path}: needs a 'labels' column and one of image_id, sha256, image")
        for row in reader:
            if row.get("image_id"):
                out[f"id:{row['image_id']}"] = row["labels"]
            elif row.get("sha256"):
                out[f"sha:{row['sha256'].lower()}"] = row["labels"]
            elif row.get("image") and (path.parent / row["image"]).is_file():
                digest = hashlib.sha256((path.parent / row["image"]).read_bytes()).hexdigest()
                out[f"sha:{digest}"] = row["labels"]
    return out


def label_sets_for(image_ids: list[str], sha256: list[str], table: dict[str, str]) -> LabelSets:
    strings = [table.get(f"id:{i}", table.get(f"sha:{s}", "")) for i, s in zip(image_ids, sha256, strict=True)]
    # In samx_core's canonical form, the one the labeling service names clusters with.
    return parse_label_sets([SEED_NAMES.resolve_set(s) for s in strings], sep=LABEL_SEPARATOR)


def clustering_metrics(clusters: np.ndarray, labels: LabelSets, k: int) -> dict:
    """SCAN-style figures on the labeled radiographs (samx_ml.metrics), names by majority vote."""
    lab = labels.labeled
    if not lab.any():
        return {"n_labeled": 0}
    rep = M.cluster_report(clusters[lab], labels.primary[lab], labels.multi_hot[lab], k)
    rep["n_labeled"] = int(lab.sum())
    rep["n_classes"] = int(len(np.unique(labels.primary[lab])))
    return rep
