"""``samx.radiograph.classified.v1``: the serving model sorted one ingested radiograph.

One event per (image, model version); reclassification after a new model publishes a new one. The sorted
index is built from these."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from samx_core.events.base import Event


class ScoredLabel(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    probability: float = Field(ge=0.0, le=1.0)


class ClassificationFlags(BaseModel):
    model_config = ConfigDict(frozen=True)

    uncertain: bool = Field(description="Top-1 probability below the threshold calibrated on validation")
    not_msk: bool = Field(description="Out of distribution, or the discard class won")
    tag_mismatch: bool = Field(description="DICOM BodyPartExamined contradicts the prediction")


class RadiographClassified(Event):
    TOPIC: ClassVar[str] = "samx.radiograph.classified.v1"

    image_id: str = Field(description="Archive image id (from radiograph.ingested)")
    model_version: str
    top: list[ScoredLabel] = Field(min_length=1, description="Top-k labels, most probable first")
    flags: ClassificationFlags
