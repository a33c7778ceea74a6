"""``samx.clustering.completed.v1``: a phase-1 run has sorted the archive into clusters.

The artifacts stay in the object store (claim check); the event carries their references, the run's
size and, when ground truth was given to the run, its headline figures."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from samx_core.events.base import Event, ObjectRef


class ClusteringCompleted(Event):
    TOPIC: ClassVar[str] = "samx.clustering.completed.v1"

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Phase-1 run id")
    profile: str = Field(description="Run profile: ci, dev, gpu, ...")
    n_images: int = Field(ge=1, description="Radiographs assigned to a cluster")
    n_skipped: int = Field(default=0, ge=0, description="Archive records whose derivative could not be read")
    n_clusters: int = Field(ge=2, description="K, the number of clusters (some may be empty)")
    artifacts_prefix: str = Field(description="Key prefix of every artifact of the run in the archive bucket")
    assignments: ObjectRef = Field(description="CSV: image_id, cluster, confidence, second")
    clusters: ObjectRef = Field(description="JSON: per cluster size, mean confidence, exemplars, least confident")
    embeddings: ObjectRef = Field(description="NumPy .npy float32 (N, D), rows in the order of image_ids")
    image_ids: ObjectRef = Field(description="JSON list of the N image ids")
    report: ObjectRef = Field(description="Markdown run report")
    metrics_file: ObjectRef | None = Field(default=None, description="JSON metrics, when ground truth was given")
    metrics: dict[str, float] | None = Field(default=None, description="Headline metrics (NMI, ARI, ...)")
