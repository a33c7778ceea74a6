"""Where the shared development data sets live, and the UNIFESP labels and headers as Python records.

The data sets are kept outside the repository (/work/shared/datasets/README.md says why): tests and
benchmarks find them through ``SAMX_DATASETS`` or next to the checkout, and fail with a clear message
rather than with a FileNotFoundError deep inside a fixture."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_VAR = "SAMX_DATASETS"
UNIFESP = "unifesp-dev"
PRETRAIN_CORPUS = "pretrain-corpus"
_REPO_ROOT = Path(__file__).resolve().parents[2]


class DatasetsMissing(FileNotFoundError):
    """The shared data sets are not where the environment says."""


def shared_datasets_dir() -> Path:
    """``$SAMX_DATASETS`` if set, else ``<repo>/../shared/datasets``."""
    configured = os.environ.get(ENV_VAR)
    path = Path(configured) if configured else _REPO_ROOT.parent / "shared" / "datasets"
    if not path.is_dir():
        source = f"${ENV_VAR}" if configured else "the default location next to the repository"
        raise DatasetsMissing(
            f"shared data sets not found at {path} ({source}); set {ENV_VAR} to the folder that holds {UNIFESP}/"
        )
    return path


def unifesp_dir() -> Path:
    path = shared_datasets_dir() / UNIFESP
    if not (path / "labels.csv").is_file():
        raise DatasetsMissing(f"{path} has no labels.csv; is {ENV_VAR} pointing at the right folder?")
    return path


def pretrain_corpus_dir() -> Path:
    path = shared_datasets_dir() / PRETRAIN_CORPUS
    if not (path / "corpus.csv").is_file():
        raise DatasetsMissing(f"{path} has no corpus.csv; is {ENV_VAR} pointing at the right folder?")
    return path


@dataclass(frozen=True)
class UnifespImage:
    """One PNG of the UNIFESP set: its path, ground-truth regions (empty when unlabeled), the
    pseudonymous patient (split on it, never on images), and the header it came with, when known."""

    path: Path
    labels: tuple[str, ...]
    patient_id: str
    source: str
    dicom_tags: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_labeled(self) -> bool:
        return bool(self.labels)


def load_unifesp_dicom_tags(root: Path | None = None) -> dict[str, dict[str, str]]:
    """dicom_tags.csv keyed by the image's relative path (``images/<uid>-c.png``)."""
    root = root or unifesp_dir()
    with (root / "dicom_tags.csv").open(newline="", encoding="utf-8") as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


def load_unifesp_labels(root: Path | None = None, *, labeled_only: bool = False) -> list[UnifespImage]:
    """labels.csv joined with dicom_tags.csv, in file order."""
    root = root or unifesp_dir()
    tags = load_unifesp_dicom_tags(root)
    images = []
    with (root / "labels.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            labels = tuple(label for label in row["labels"].split(";") if label)
            if labeled_only and not labels:
                continue
            images.append(
                UnifespImage(
                    path=root / row["image"],
                    labels=labels,
                    patient_id=row["patient_id"],
                    source=row["source"],
                    dicom_tags=tags.get(row["image"], {}),
                )
            )
    return images
