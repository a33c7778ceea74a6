"""The label set: what a radiologist decided for one phase-1 run, frozen as version N.

Written once by the labeling service to ``labelsets/<run_id>/v<N>.json`` in the archive bucket (never
rewritten), announced by ``samx.labels.published.v1``, read by phase 2 (label injection) and by exports.

Decisions are made per cluster (a name, or a discard), and per radiograph where the cluster got it wrong:
a cluster the radiologist split has parts (clusters numbered after the run's K, each with its ``parent``)
and its radiographs are placed into them; a radiograph moved to another cluster is placed there; an
excluded one ("does not belong") trains nothing, unless it was named on its own (``labels``).
``placements``, ``excluded`` and ``labels`` are what phase 2 applies on top of phase 1's assignments.

Additive fields are ignored on read, as for events, so an older reader keeps working.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_IMAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_RUN_ID = _IMAGE_ID


def label_set_key(run_id: str, version: int) -> str:
    """Object key of version ``version`` of run ``run_id``'s label set in the archive bucket."""
    if version < 1:
        raise ValueError(f"label set versions start at 1, not {version}")
    return f"labelsets/{run_id}/v{version}.json"


class LabelSetCluster(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    cluster: int = Field(ge=0, description="Phase-1 cluster, or a part of a split one (numbered after K)")
    size: int = Field(default=0, ge=0, description="Radiographs in it when published (0 for a split cluster)")
    label: str | None = Field(description="Its name; null when discarded, split or left undecided")
    discarded: bool = False
    flagged: bool = False
    parent: int | None = Field(default=None, description="The cluster this part was split from")
    split_into: list[int] = Field(default_factory=list, description="Parts, when the radiologist split it")


class LabelSetDecisions(BaseModel):
    """The radiologist's work, counted (the paper's figure of merit: decisions per radiograph)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    names: int = Field(default=0, ge=0, description="Clusters (and parts) named")
    discards: int = Field(default=0, ge=0, description="Clusters discarded")
    splits: int = Field(default=0, ge=0, description="Clusters split into parts")
    exclusions: int = Field(default=0, ge=0, description="Radiographs excluded from their cluster")
    moves: int = Field(default=0, ge=0, description="Radiographs moved to another cluster")
    image_names: int = Field(default=0, ge=0, description="Excluded radiographs named one by one")
    total: int = Field(default=0, ge=0)
    per_image: float = Field(default=0.0, ge=0.0, description="total / radiographs of the run")


class LabelSetDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str = Field(pattern=_RUN_ID)
    version: int = Field(ge=1)
    published_by: str = Field(default="", max_length=128, description="Staff user name, never patient data")
    published_at: AwareDatetime | None = None
    classes: list[str] = Field(default_factory=list, description="Distinct names, sorted (the merged classes)")
    n_clusters_named: int = Field(default=0, ge=0)
    n_clusters_discarded: int = Field(default=0, ge=0)
    n_images_named: int = Field(default=0, ge=0, description="Radiographs that carry a name (phase 2's set)")
    clusters: list[LabelSetCluster]
    placements: dict[str, int] = Field(
        default_factory=dict,
        description="image id -> cluster, for every radiograph no longer in its phase-1 cluster (split, moved)",
    )
    excluded: list[str] = Field(default_factory=list, description="Radiographs excluded: they train nothing")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="image id -> name, for excluded radiographs the radiologist named one by one: they train "
        "under that name. They stay in `excluded`, so a reader that predates this field trains nothing on them "
        "rather than their old cluster's name",
    )
    decisions: LabelSetDecisions = Field(default_factory=LabelSetDecisions)
    n_images: int | None = Field(default=None, ge=0, description="Radiographs of the run")
