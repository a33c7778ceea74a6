"""Opening a labeling session for a phase-1 run: one row per run, cluster and radiograph, plus the
suggestions that the archive's DICOM headers (BodyPartExamined) support.

Idempotent: ``clustering.completed`` is delivered at least once, so a run that already has a session
is left exactly as it is (labels given since are never reset by a replay)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from samx_labeling.db.models import Cluster, Member, Run, utcnow
from samx_labeling.domain.errors import InvalidInputError
from samx_labeling.domain.ports import Phase1Artifacts
from samx_labeling.domain.suggestions import dicom_suggestions, store_suggestions
from samx_labeling.domain.vocabulary import Vocabulary


@dataclass(frozen=True)
class RunDescription:
    run_id: str
    profile: str
    n_images: int
    n_clusters: int
    artifacts_bucket: str
    artifacts_prefix: str
    source_event_id: str
    metrics: dict[str, float] | None = None
    embeddings_bucket: str | None = None  # phase 1's (N, D) embeddings, rows in the assignments' order
    embeddings_key: str | None = None


def open_session(session: Session, run: RunDescription, artifacts: Phase1Artifacts) -> bool:
    """Creates the run's session; returns False when it existed already (a replayed event)."""
    if session.get(Run, run.run_id) is not None:
        return False
    summaries = artifacts.clusters()
    assignments = artifacts.assignments()
    _check_consistent(run, summaries, assignments)
    records = artifacts.image_records([a.image_id for a in assignments])

    session.add(
        Run(
            run_id=run.run_id,
            profile=run.profile,
            n_images=run.n_images,
            n_clusters=run.n_clusters,
            artifacts_bucket=run.artifacts_bucket,
            artifacts_prefix=run.artifacts_prefix,
            source_event_id=run.source_event_id,
            metrics=run.metrics,
            embeddings_bucket=run.embeddings_bucket,
            embeddings_key=run.embeddings_key,
            created_at=utcnow(),
        )
    )
    session.flush()
    # Core bulk inserts: a run may hold tens of thousands of radiographs.
    session.execute(
        insert(Cluster),
        [
            {
                "run_id": run.run_id,
                "cluster": s.cluster,
                "size": s.size,
                "mean_confidence": s.mean_confidence,
                "exemplars": s.exemplars,
                "label": None,
                "discarded": False,
                "flagged": False,
                "version": 1,
            }
            for s in summaries
        ],
    )
    member_rows = []
    for row, a in enumerate(assignments):
        record = records[a.image_id]
        member_rows.append(
            {
                "run_id": run.run_id,
                "image_id": a.image_id,
                "cluster": a.cluster,
                "confidence": a.confidence,
                "sha256": record.sha256,
                "body_part": record.body_part,
                "thumbnail_key": record.thumbnail_key,
                "derivative_key": record.derivative_key,
                "facts": record.facts,
                "row": row,
            }
        )
    if member_rows:
        session.execute(insert(Member), member_rows)
    votes = [(a.cluster, [records[a.image_id].body_part or ""]) for a in assignments]
    store_suggestions(session, run.run_id, "dicom", dicom_suggestions(votes, Vocabulary.load(session)))
    try:
        session.commit()
    except IntegrityError:
        # Another consumer (or a replay racing this one) created it first: theirs stands.
        session.rollback()
        return False
    return True


def _check_consistent(run: RunDescription, summaries, assignments) -> None:
    """Artifacts that contradict their event are not labeled: the consumer dead-letters the event."""
    clusters = {s.cluster for s in summaries}
    if len(clusters) != len(summaries) or not clusters:
        raise InvalidInputError("clusters.json lists no clusters or repeats one")
    if any(c < 0 or c >= run.n_clusters for c in clusters):
        raise InvalidInputError("clusters.json has a cluster outside 0..n_clusters-1")
    if len({a.image_id for a in assignments}) != len(assignments):
        raise InvalidInputError("assignments.csv repeats an image id")
    unknown = {a.cluster for a in assignments} - clusters
    if unknown:
        raise InvalidInputError(f"assignments.csv refers to {len(unknown)} cluster(s) missing from clusters.json")
