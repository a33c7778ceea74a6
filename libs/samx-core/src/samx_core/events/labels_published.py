"""``samx.labels.published.v1``: a radiologist froze the names of a phase-1 run's clusters.

The label set itself (cluster -> name or discarded) is an immutable JSON object in the archive bucket
(claim check); phase 2 injects it into the images of the run. Clusters with the same name merge into
one class, so ``classes`` is the sorted list of distinct names."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from samx_core.events.base import Event, ObjectRef


class LabelsPublished(Event):
    TOPIC: ClassVar[str] = "samx.labels.published.v1"

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Phase-1 run the clusters come from")
    labelset_version: int = Field(ge=1, description="Version of this run's label set; each publish adds one")
    labelset: ObjectRef = Field(
        description="JSON: samx_core.archive.LabelSetDocument (per cluster a name or a discard; per radiograph "
        "the placements of splits and moves, and the exclusions)"
    )
    classes: list[str] = Field(min_length=1, description="Distinct names (the merged classes), sorted")
    n_clusters_named: int = Field(ge=0, description="Clusters given a name")
    n_clusters_discarded: int = Field(ge=0, description="Clusters discarded as not musculoskeletal or unusable")
    n_images_named: int = Field(ge=0, description="Images in named clusters (the training set of phase 2)")
    published_by: str = Field(
        min_length=1, max_length=128, description="User name of the publisher (staff, not patient)"
    )
