"""Clusters of a run: browse (sorted, filtered, paged), members, and the changes a radiologist makes.

Every write carries the version the client saw; the answer carries the new one, also as ``ETag``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select

from samx_labeling.api.deps import ClusterPath, ContextDep, Labeler, RunId, SessionDep, Viewer
from samx_labeling.api.errors import CONFLICT, ERROR_RESPONSES
from samx_labeling.api.presenters import etag, present_clusters, present_members
from samx_labeling.api.schemas import (
    ClusterPage,
    ClusterPublic,
    DiscardUpdate,
    FlagUpdate,
    LabelUpdate,
    MemberPage,
    UndoRequest,
)
from samx_labeling.db.models import Cluster, Member, Suggestion
from samx_labeling.domain import labeling
from samx_labeling.domain.labeling import get_cluster, get_run

router = APIRouter(prefix="/runs/{run_id}/clusters", tags=["clusters"], responses=ERROR_RESPONSES)

Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]

# "agreement": the best share among the cluster's suggestions; ascending puts the likely mixed clusters
# (the ones worth splitting) first.
_AGREEMENT = (
    select(func.max(Suggestion.share))
    .where(Suggestion.run_id == Cluster.run_id, Suggestion.cluster == Cluster.cluster)
    .correlate(Cluster)
    .scalar_subquery()
)
_SORT_COLUMNS = {
    "size": Cluster.size,
    "confidence": Cluster.mean_confidence,
    "cluster": Cluster.cluster,
    "agreement": _AGREEMENT,
}
_STATUS_FILTERS = {
    "all": None,
    "unlabeled": Cluster.label.is_(None) & Cluster.discarded.is_(False) & Cluster.split.is_(False),
    "labeled": Cluster.label.is_not(None) & Cluster.discarded.is_(False),
    "discarded": Cluster.discarded.is_(True),
    "flagged": Cluster.flagged.is_(True),
    "split": Cluster.split.is_(True),
}


@router.get("", summary="Clusters of a run, sorted, filtered and paged")
def list_clusters(
    run_id: RunId,
    session: SessionDep,
    context: ContextDep,
    _: Viewer,
    sort: Literal["size", "confidence", "cluster", "agreement"] = "size",
    order: Literal["asc", "desc"] = "desc",
    status: Literal["all", "unlabeled", "labeled", "discarded", "flagged", "split"] = "all",
    offset: Offset = 0,
    limit: Limit = 100,
) -> ClusterPage:
    run = get_run(session, run_id)
    column = _SORT_COLUMNS[sort]
    key = column.desc() if order == "desc" else column.asc()
    query = select(Cluster).where(Cluster.run_id == run_id)
    wanted = _STATUS_FILTERS[status]
    if wanted is not None:
        query = query.where(wanted)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    # Empty clusters have no mean confidence: they go last whichever the order.
    page = session.scalars(query.order_by(key.nulls_last(), Cluster.cluster).offset(offset).limit(limit))
    items = present_clusters(session, run, list(page), context.links, min_share=context.suggestion_min_share)
    return ClusterPage(items=items, total=total or 0, offset=offset, limit=limit)


@router.get("/{cluster}", summary="One cluster (ETag: its version)")
def read_cluster(
    run_id: RunId, cluster: ClusterPath, session: SessionDep, context: ContextDep, response: Response, _: Viewer
) -> ClusterPublic:
    found = get_cluster(session, run_id, cluster)
    [item] = present_clusters(
        session, get_run(session, run_id), [found], context.links, min_share=context.suggestion_min_share
    )
    response.headers["ETag"] = etag(item)
    return item


@router.get("/{cluster}/members", summary="Radiographs of a cluster, most or least confident first")
def list_members(
    run_id: RunId,
    cluster: ClusterPath,
    session: SessionDep,
    context: ContextDep,
    _: Viewer,
    order: Literal["most", "least"] = "most",
    offset: Offset = 0,
    limit: Limit = 50,
) -> MemberPage:
    found = get_cluster(session, run_id, cluster)
    run = get_run(session, run_id)
    key = Member.confidence.desc() if order == "most" else Member.confidence.asc()
    where = (Member.run_id == run_id, Member.cluster == cluster, Member.excluded.is_(False))
    rows = session.scalars(select(Member).where(*where).order_by(key, Member.image_id).offset(offset).limit(limit))
    items = present_members(run, list(rows), context.links)
    total = session.scalar(select(func.count()).where(*where))
    return MemberPage(items=items, total=total if total is not None else found.size, offset=offset, limit=limit)


def _answer(session, context, run_id: str, cluster, response: Response) -> ClusterPublic:
    [item] = present_clusters(
        session, get_run(session, run_id), [cluster], context.links, min_share=context.suggestion_min_share
    )
    response.headers["ETag"] = etag(item)
    return item


@router.put("/{cluster}/label", summary="Name a cluster (normalized through the vocabulary)", responses=CONFLICT)
def put_label(
    run_id: RunId,
    cluster: ClusterPath,
    body: LabelUpdate,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    user: Labeler,
) -> ClusterPublic:
    changed = labeling.set_label(session, run_id, cluster, body.label, body.version, user.user)
    return _answer(session, context, run_id, changed, response)


@router.post("/{cluster}/discard", summary="Discard (or restore) a cluster", responses=CONFLICT)
def post_discard(
    run_id: RunId,
    cluster: ClusterPath,
    body: DiscardUpdate,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    user: Labeler,
) -> ClusterPublic:
    changed = labeling.discard(session, run_id, cluster, body.version, body.reason, body.discarded, user.user)
    return _answer(session, context, run_id, changed, response)


@router.post("/{cluster}/flag", summary="Flag a cluster for a second look (or clear the flag)", responses=CONFLICT)
def post_flag(
    run_id: RunId,
    cluster: ClusterPath,
    body: FlagUpdate,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    user: Labeler,
) -> ClusterPublic:
    changed = labeling.flag(session, run_id, cluster, body.version, body.flagged, user.user)
    return _answer(session, context, run_id, changed, response)


@router.post("/{cluster}/undo", summary="Revert the cluster's last change (from the audit log)", responses=CONFLICT)
def post_undo(
    run_id: RunId,
    cluster: ClusterPath,
    body: UndoRequest,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    user: Labeler,
) -> ClusterPublic:
    changed = labeling.undo(session, run_id, cluster, body.version, user.user)
    return _answer(session, context, run_id, changed, response)
