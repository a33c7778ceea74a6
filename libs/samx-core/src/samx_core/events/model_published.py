"""``samx.model.published.v1``: a phase-2 classifier was promoted; serving moves to it.

The weights and the manifest (classes, preprocessing, metrics, lineage) live in the model registry in the
archive bucket; the event names the version and carries enough to decide whether to load it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from samx_core.events.base import Event, ObjectRef


class ModelPublished(Event):
    TOPIC: ClassVar[str] = "samx.model.published.v1"

    model_version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Registry version")
    manifest: ObjectRef = Field(description="JSON manifest: classes, arch, image size, preprocessing, metrics, lineage")
    weights: ObjectRef = Field(description="torch state dict of the classifier")
    classes: list[str] = Field(min_length=1, description="Output classes, in the order of the logits")
    run_id: str = Field(description="Phase-1 run whose backbone and clusters the model comes from")
    labelset_version: int = Field(ge=1, description="Label set version the training labels come from")
    metrics: dict[str, float] = Field(default_factory=dict, description="Headline figures (cv / hold-out top-1, top-2)")
