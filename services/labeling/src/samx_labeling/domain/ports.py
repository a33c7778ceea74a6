"""What the domain needs from the outside world, as protocols; adapters implement them over MinIO and
Kafka (``samx_labeling.adapters``), tests and benchmarks may hand in their own real implementations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ClusterSummary:
    cluster: int
    size: int
    mean_confidence: float | None
    exemplars: list[str]


@dataclass(frozen=True)
class Assignment:
    image_id: str
    cluster: int
    confidence: float


@dataclass(frozen=True)
class ImageRecord:
    """What the archive knows of one radiograph that the labeling needs; no patient data."""

    sha256: str | None
    body_part: str | None
    thumbnail_key: str
    derivative_key: str | None = None  # full resolution, for the viewer
    # What the viewer shows beside the image: modality, view, laterality, rows, columns, site (never
    # patient or study identifiers).
    facts: dict | None = None


@dataclass(frozen=True)
class PublishedObject:
    bucket: str
    key: str
    sha256: str
    size_bytes: int


class Phase1Artifacts(Protocol):
    """Reads one phase-1 run's artifacts (clusters.json, assignments.csv) and the archive records."""

    def clusters(self) -> list[ClusterSummary]: ...

    def assignments(self) -> list[Assignment]: ...

    def image_records(self, image_ids: list[str]) -> dict[str, ImageRecord]: ...


class RunEmbeddings(Protocol):
    """Phase 1's embeddings of a run: ``rows(bucket, key, rows)`` -> float32 (len(rows), D)."""

    def rows(self, bucket: str, key: str, rows: list[int]) -> np.ndarray: ...


class AnnounceFailed(Exception):
    """The event bus did not acknowledge an announcement (down, or too slow): retry later."""


class LabelSetSink(Protocol):
    """Stores a frozen label set (before its commit) and announces it (after; ``AnnounceFailed`` when the
    bus does not acknowledge in time)."""

    bucket: str

    def store(self, run_id: str, version: int, document: dict) -> PublishedObject: ...

    def announce(self, run_id: str, version: int, stored: PublishedObject, document: dict) -> None: ...

    def close(self) -> None: ...


class ImageLinks(Protocol):
    """Short-lived URLs a browser can load images from (presigned object-store URLs)."""

    def montage(self, bucket: str, prefix: str, cluster: int) -> str: ...

    def thumbnail(self, bucket: str, key: str) -> str: ...

    def image(self, bucket: str, key: str) -> str: ...  # a full-resolution derivative, for the viewer
