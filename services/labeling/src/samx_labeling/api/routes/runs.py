"""Phase-1 runs with a labeling session, and their progress."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from samx_labeling.api.deps import RunId, SessionDep, Viewer
from samx_labeling.api.errors import ERROR_RESPONSES
from samx_labeling.api.schemas import ProgressPublic, RunList, RunPublic, TallyPublic
from samx_labeling.db.models import LabelSet, Member, Run
from samx_labeling.domain.labeling import get_run
from samx_labeling.domain.progress import progress
from samx_labeling.domain.publishing import decision_counts

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)


def _latest_versions(session, run_ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(LabelSet.run_id, func.max(LabelSet.version))
        .where(LabelSet.run_id.in_(run_ids))
        .group_by(LabelSet.run_id)
    )
    return {run_id: version for run_id, version in rows}


def _public(run: Run, latest: int | None) -> RunPublic:
    return RunPublic(
        run_id=run.run_id,
        profile=run.profile,
        n_images=run.n_images,
        n_clusters=run.n_clusters,
        created_at=run.created_at,
        metrics=run.metrics,
        latest_labelset_version=latest,
    )


@router.get("", summary="Runs with a labeling session, newest first")
def list_runs(session: SessionDep, _: Viewer) -> RunList:
    runs = list(session.scalars(select(Run).order_by(Run.created_at.desc(), Run.run_id)))
    latest = _latest_versions(session, [r.run_id for r in runs]) if runs else {}
    return RunList(items=[_public(r, latest.get(r.run_id)) for r in runs])


@router.get("/{run_id}", summary="One run")
def read_run(run_id: RunId, session: SessionDep, _: Viewer) -> RunPublic:
    run = get_run(session, run_id)
    return _public(run, _latest_versions(session, [run_id]).get(run_id))


@router.get("/{run_id}/progress", summary="Clusters and radiographs labeled, discarded, flagged and left")
def read_progress(run_id: RunId, session: SessionDep, _: Viewer) -> ProgressPublic:
    p = progress(session, run_id)
    n_images = session.scalar(select(func.count()).where(Member.run_id == run_id)) or 0
    excluded = session.scalar(select(func.count()).where(Member.run_id == run_id, Member.excluded.is_(True))) or 0
    return ProgressPublic(
        clusters=TallyPublic(**vars(p.clusters)),
        images=TallyPublic(**vars(p.images)),
        empty_clusters=p.empty_clusters,
        classes=p.classes,
        excluded=excluded,
        decisions=decision_counts(session, run_id, n_images),
    )
