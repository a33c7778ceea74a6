"""A phase-1 run's stored results: ``clusters.json`` and ``assignments.csv``, under the run's prefix
(``<runs prefix>/<run_id>/``) in the archive bucket; announced by ``samx.clustering.completed.v1``, read by
labeling (the session), phase 2 (label injection) and the launchers (is the run there?).

``assignments.csv`` stays CSV (a radiologist opens it in a spreadsheet); its rows have a model here and
one writer/reader pair, whose reader names the line of a bad row. Additive JSON fields and additive CSV
columns are ignored on read, so an older reader keeps working.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

IMAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
RUN_ID = IMAGE_ID
ASSIGNMENTS_COLUMNS = ("image_id", "cluster", "confidence", "second")


def run_prefix(runs_prefix: str, run_id: str) -> str:
    """Key prefix of every artifact of one phase-1 run, ending in ``/``."""
    return f"{runs_prefix.strip('/')}/{run_id}/"


def _under(artifacts_prefix: str, name: str) -> str:
    return artifacts_prefix.rstrip("/") + "/" + name


def clusters_key(artifacts_prefix: str) -> str:
    return _under(artifacts_prefix, "clusters.json")


def assignments_key(artifacts_prefix: str) -> str:
    return _under(artifacts_prefix, "assignments.csv")


def backbone_key(artifacts_prefix: str) -> str:
    """The adapted backbone (a torch file: ``arch`` and ``state_dict``) phase 2 starts from."""
    return _under(artifacts_prefix, "backbone.pt")


def run_report_key(artifacts_prefix: str) -> str:
    """The run's report, written last: its presence says the run is complete."""
    return _under(artifacts_prefix, "report.md")


class ClusterSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    cluster: int = Field(ge=0)
    size: int = Field(ge=0, description="Radiographs assigned to it")
    mean_confidence: float | None = Field(description="Mean assignment confidence; null when empty")
    exemplars: list[str] = Field(default_factory=list, description="Most confident radiographs, best first")
    least_confident: list[str] = Field(default_factory=list, description="Least confident, worst first")


class ClustersDocument(BaseModel):
    """``clusters.json``: one entry per cluster, empty ones too."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str = Field(pattern=RUN_ID)
    k: int = Field(ge=1, description="K, the number of clusters")
    clusters: list[ClusterSummary]


class AssignmentRow(BaseModel):
    """One row of ``assignments.csv``: a radiograph's cluster, its confidence and the runner-up."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    image_id: str = Field(pattern=IMAGE_ID)
    cluster: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)
    second: int | None = Field(default=None, ge=0, description="The runner-up cluster")


class AssignmentsError(ValueError):
    """``assignments.csv`` cannot be read; the message names the line and says nothing else of it."""


def write_assignments(rows: Iterable[AssignmentRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ASSIGNMENTS_COLUMNS)
    for r in rows:
        writer.writerow([r.image_id, r.cluster, f"{r.confidence:.6f}", "" if r.second is None else r.second])
    return out.getvalue().encode()


def read_assignments(data: bytes) -> list[AssignmentRow]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AssignmentsError("assignments.csv is not UTF-8") from None
    rows = csv.DictReader(io.StringIO(text))
    missing = [c for c in ASSIGNMENTS_COLUMNS[:3] if c not in (rows.fieldnames or [])]
    if missing:
        raise AssignmentsError(f"assignments.csv needs the columns image_id, cluster and confidence; missing {missing}")
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            out.append(AssignmentRow.model_validate({k: v for k, v in row.items() if k is not None and v != ""}))
        except ValidationError as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
            raise AssignmentsError(f"assignments.csv line {line} is malformed ({', '.join(fields)})") from None
    return out
