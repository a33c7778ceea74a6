"""Fixing a cluster from inside: split it, exclude radiographs that do not belong, move them where they do,
and the pool of excluded radiographs. Each is a versioned, audited change of the cluster it starts from,
undone by that cluster's ``undo``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import func, select

from samx_labeling.api.deps import ClusterPath, ContextDep, Labeler, RunId, SessionDep, Viewer
from samx_labeling.api.errors import CONFLICT, ERROR_RESPONSES, UNAVAILABLE
from samx_labeling.api.presenters import etag, present_clusters, present_members
from samx_labeling.api.routes.clusters import Limit, Offset
from samx_labeling.api.schemas import ClusterPublic, ExcludeRequest, MemberPage, MoveRequest, SplitRequest, SplitResult
from samx_labeling.db.models import Member
from samx_labeling.domain import curation
from samx_labeling.domain.errors import ConflictError
from samx_labeling.domain.labeling import get_cluster, get_run

router = APIRouter(prefix="/runs/{run_id}", tags=["curation"], responses=ERROR_RESPONSES)


@router.post(
    "/clusters/{cluster}/split",
    summary="Split a cluster into 2-4 parts on its phase-1 embeddings (k-means); name the parts",
    status_code=status.HTTP_201_CREATED,
    responses={**CONFLICT, **UNAVAILABLE},
)
def post_split(
    run_id: RunId,
    cluster: ClusterPath,
    body: SplitRequest,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    user: Labeler,
) -> SplitResult:
    if context.embeddings is None:
        raise ConflictError("this service was started without access to phase 1's embeddings: it cannot split")
    parts = curation.split_cluster(session, run_id, cluster, body.version, body.parts, user.user, context.embeddings)
    run = get_run(session, run_id)
    parent, *shown = present_clusters(
        session,
        run,
        [get_cluster(session, run_id, cluster), *parts],
        context.links,
        min_share=context.suggestion_min_share,
    )
    response.headers["ETag"] = etag(parent)
    return SplitResult(cluster=parent, parts=shown)


def _reassigned(session, context, run_id: str, changed, response: Response) -> ClusterPublic:
    [item] = present_clusters(
        session, get_run(session, run_id), [changed], context.links, min_share=context.suggestion_min_share
    )
    response.headers["ETag"] = etag(item)
    return item


@router.post(
    "/clusters/{cluster}/exclude",
    summary="Take radiographs that do not belong out of the cluster (they train nothing)",
    responses=CONFLICT,
)
def post_exclude(
    run_id: RunId,
    cluster: ClusterPath,
    body: ExcludeRequest,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    user: Labeler,
) -> ClusterPublic:
    changed = curation.reassign(session, run_id, cluster, body.version, body.image_ids, user.user, to=None)
    return _reassigned(session, context, run_id, changed, response)


@router.post(
    "/clusters/{cluster}/move",
    summary="Move radiographs to the cluster they belong to (both clusters' versions move on)",
    responses=CONFLICT,
)
def post_move(
    run_id: RunId,
    cluster: ClusterPath,
    body: MoveRequest,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    user: Labeler,
) -> ClusterPublic:
    changed = curation.reassign(session, run_id, cluster, body.version, body.image_ids, user.user, to=body.to_cluster)
    return _reassigned(session, context, run_id, changed, response)


@router.get("/excluded", summary="The run's excluded radiographs (undo on their cluster puts them back)")
def list_excluded(
    run_id: RunId, session: SessionDep, context: ContextDep, _: Viewer, offset: Offset = 0, limit: Limit = 50
) -> MemberPage:
    run = get_run(session, run_id)
    where = (Member.run_id == run_id, Member.excluded.is_(True))
    rows = session.scalars(select(Member).where(*where).order_by(Member.image_id).offset(offset).limit(limit))
    total = session.scalar(select(func.count()).where(*where)) or 0
    return MemberPage(items=present_members(run, list(rows), context.links), total=total, offset=offset, limit=limit)
