"""Request and response bodies of the API (typed; the OpenAPI document is generated from these).

Integers that reach SQL are bounded to 32 bits and strings that reach SQL have patterns without control
characters: PostgreSQL refuses NUL bytes and out-of-range integers, which would otherwise be a 500."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from samx_core.archive import LabelSetDecisions

from samx_labeling.domain.vocabulary import MAX_LABEL_LENGTH, is_valid_label

INT32 = 2**31 - 1
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"


def _label(value: str) -> str:
    if not is_valid_label(value):
        raise ValueError(
            f"a label is 1-{MAX_LABEL_LENGTH} characters: letters, digits, spaces and ' ( ) / . + - _, "
            "starting with a letter or digit"
        )
    return value


LabelText = Annotated[str, Field(min_length=1, max_length=200, examples=["hand"]), AfterValidator(_label)]
Version = Annotated[int, Field(ge=1, le=INT32, description="The cluster version the writer saw")]
ClusterNumber = Annotated[int, Field(ge=0, le=INT32)]


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, for a person")


# -- runs ---------------------------------------------------------------------------------------------
class RunPublic(BaseModel):
    run_id: str
    profile: str
    n_images: int
    n_clusters: int
    created_at: datetime
    metrics: dict[str, float] | None = None
    latest_labelset_version: int | None = None


class RunList(BaseModel):
    items: list[RunPublic]


# -- clusters -----------------------------------------------------------------------------------------
class SuggestionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    cluster: int
    source: Literal["csv", "dicom"]
    label: str
    share: float = Field(description="Fraction of the cluster's radiographs with a known region that carry it")
    support: int = Field(description="Radiographs of the cluster with a known region")
    below_threshold: bool = Field(
        default=False, description="share under the service's threshold: accepting it needs a confirmation"
    )


class ExemplarPublic(BaseModel):
    image_id: str
    thumbnail_url: str


class ClusterPublic(BaseModel):
    run_id: str
    cluster: int
    size: int
    mean_confidence: float | None
    label: str | None
    discarded: bool
    discard_reason: str | None
    flagged: bool
    version: int
    updated_by: str | None
    updated_at: datetime | None
    montage_url: str | None = Field(description="Presigned URL of the montage (none for an empty cluster or a part)")
    exemplars: list[ExemplarPublic]
    suggestion: SuggestionPublic | None
    parent: int | None = Field(default=None, description="The cluster this part was split from")
    split: bool = Field(default=False, description="Split into parts (its radiographs are in them)")
    split_proposed: bool = Field(
        default=False,
        description="Looks mixed (its suggestion's share is under the threshold): worth splitting",
    )


class ClusterPage(BaseModel):
    items: list[ClusterPublic]
    total: int
    offset: int
    limit: int


class MemberPublic(BaseModel):
    image_id: str
    confidence: float
    thumbnail_url: str
    cluster: int | None = Field(default=None, description="Where it is now (the excluded pool: null)")
    phase1_cluster: int | None = Field(default=None, description="Where phase 1 put it, when that changed")
    body_part: str | None = Field(default=None, description="DICOM BodyPartExamined, when the archive has it")
    known_labels: str | None = Field(default=None, description="Known names from an uploaded CSV, ';'-joined")
    image_url: str | None = Field(default=None, description="Presigned URL of the full-resolution derivative")
    facts: dict[str, str | int] = Field(
        default_factory=dict, description="Modality, view, laterality, rows, columns, site (no identifiers)"
    )
    label: str | None = Field(default=None, description="Its own name (excluded radiographs named one by one)")
    label_version: int = Field(default=1, description="The version a name of this radiograph is sent with")


class MemberPage(BaseModel):
    items: list[MemberPublic]
    total: int
    offset: int
    limit: int


class LabelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: LabelText
    version: Version


class BatchLabelItem(LabelUpdate):
    cluster: ClusterNumber


class BatchLabelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchLabelItem] = Field(min_length=1, max_length=5000)


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version
    parts: int = Field(default=2, ge=2, le=4, description="How many parts (fewer when the embeddings coincide)")


class SplitResult(BaseModel):
    cluster: ClusterPublic = Field(description="The split cluster (size 0 now; undo restores it)")
    parts: list[ClusterPublic]


ImageIdText = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class ExcludeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version
    image_ids: list[ImageIdText] = Field(min_length=1, max_length=1000, description="Radiographs of this cluster")


class MoveRequest(ExcludeRequest):
    to_cluster: ClusterNumber = Field(description="The cluster they belong to (not a split or discarded one)")


class ClusterList(BaseModel):
    items: list[ClusterPublic]


class DiscardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version
    reason: str = Field(default="", max_length=500, pattern=PLAIN_TEXT)
    discarded: bool = Field(default=True, description="false restores a discarded cluster")


class FlagUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version
    flagged: bool


class UndoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version


# -- progress -----------------------------------------------------------------------------------------
class TallyPublic(BaseModel):
    total: int
    labeled: int
    discarded: int
    flagged: int
    left: int = Field(description="Neither named nor discarded (clusters: non-empty ones only)")


class ProgressPublic(BaseModel):
    clusters: TallyPublic
    images: TallyPublic
    empty_clusters: int
    classes: int = Field(description="Distinct names given so far")
    excluded: int = Field(default=0, description="Radiographs excluded from their clusters (not in the tallies)")
    decisions: LabelSetDecisions = Field(
        default_factory=LabelSetDecisions, description="The radiologist's decisions so far, counted as in a label set"
    )


# -- vocabulary ---------------------------------------------------------------------------------------
class VocabularyEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    synonyms: list[str]
    origin: Literal["seed", "admin", "label"]


class VocabularyList(BaseModel):
    items: list[VocabularyEntryPublic]


class VocabularyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: LabelText
    synonyms: list[LabelText] = Field(default_factory=list, max_length=50)


# -- suggestions --------------------------------------------------------------------------------------
class SuggestionList(BaseModel):
    items: list[SuggestionPublic]


class SuggestionUpload(BaseModel):
    rows: int
    matched_images: int
    unmatched_rows: int
    clusters_suggested: int


class AcceptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["csv", "dicom"] | None = Field(default=None, description="Only this source; default: the best")
    min_share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Accept only suggestions with this share; default: the threshold"
    )
    confirm_below_threshold: bool = Field(
        default=False, description="Required for a min_share under the service's threshold"
    )


class AcceptResult(BaseModel):
    accepted: int
    skipped: int = Field(description="Open clusters left as they were (below_threshold of them for their share)")
    below_threshold: int
    min_share: float


# -- label sets ---------------------------------------------------------------------------------------
class LabelSetSummary(BaseModel):
    run_id: str
    version: int
    published_by: str
    published_at: datetime
    classes: list[str]
    object_key: str
    sha256: str


class LabelSetList(BaseModel):
    items: list[LabelSetSummary]


# -- audit --------------------------------------------------------------------------------------------
class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    cluster: int | None
    action: str
    who: str
    at: datetime
    before: dict | None
    after: dict | None
    undone: bool


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    total: int
    offset: int
    limit: int
