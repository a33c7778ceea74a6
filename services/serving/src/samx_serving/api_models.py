"""Request and response bodies of the HTTP API (typed, so the OpenAPI document says what comes back)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from samx_core.archive import SortedIndexJob, SortedIndexRecord
from samx_core.events import ClassificationFlags, ObjectRef, ScoredLabel

IMAGE_ID = r"^img-[0-9a-f]{32}$"


class ArchivedRadiograph(BaseModel):
    """What a caller holding the ``radiograph.ingested`` event already knows (the sort does): with it the
    ingress reads the derivative straight away instead of the radiograph's record first. The reference
    must be this image's own derivative in the archive bucket (a 422 otherwise): a token that may
    classify does not get to read other objects through it."""

    model_config = ConfigDict(extra="forbid")

    derivative: ObjectRef
    body_part_examined: str | None = Field(default=None, max_length=64, description="The header's, for tag_mismatch")


class ImageRef(BaseModel):
    """An image already ingested: its derivative is read from the archive."""

    model_config = ConfigDict(extra="forbid")

    image_id: str = Field(pattern=IMAGE_ID)
    class_name: str | None = Field(default=None, description="explain only: the class to explain (default top-1)")
    archived: ArchivedRadiograph | None = Field(
        default=None, description="The event's derivative and body part; saves the record read"
    )


class BatchImage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str | None = Field(default=None, pattern=IMAGE_ID)
    data_base64: str | None = Field(default=None, description="A DICOM, PNG or JPEG file, base64")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: list[BatchImage] = Field(min_length=1)


OOD_SCORE_DESCRIPTION = (
    "Out-of-distribution score of the served version's calibration (samx_ml.ood; higher = less like the "
    "training radiographs); not_msk is set above its threshold. Null when the version has no calibration."
)


class Classification(BaseModel):
    image_id: str | None = None
    model_version: str
    top: list[ScoredLabel]
    flags: ClassificationFlags
    ood_score: float | None = Field(default=None, description=OOD_SCORE_DESCRIPTION)


class Problem(BaseModel):
    status: int
    reason: str
    detail: str


class BatchItemResult(BaseModel):
    index: int
    result: Classification | None = None
    error: Problem | None = None


class BatchResponse(BaseModel):
    results: list[BatchItemResult]


class Explanation(BaseModel):
    model_version: str
    class_name: str
    probability: float
    top: list[ScoredLabel]
    flags: ClassificationFlags
    ood_score: float | None = Field(default=None, description=OOD_SCORE_DESCRIPTION)
    overlay_png_base64: str = Field(
        description="RGB PNG: the radiograph in its own aspect ratio (long side SAMX_SERVING_CAM_LONG_SIDE_PX, at "
        "most its own), the map on top, a colour bar on the right"
    )
    map: list[list[float]] = Field(
        description="Grad-CAM at the target layer's resolution (h, w) over the model's square input, in [0, 1]"
    )
    map_peak: float = Field(description="The map's unscaled peak (compare magnitudes across images or classes)")
    map_npy_base64: str = Field(description="The same map as a float32 .npy file")
    target_layer: str


class IndexPage(BaseModel):
    model_version: str
    label: str | None
    total: int
    offset: int
    items: list[SortedIndexRecord]
    counts: dict[str, int] = Field(default_factory=dict, description="Images per top-1 label in this version")
    job: SortedIndexJob | None = Field(default=None, description="Reclassification of the archive with this version")
