"""Naming many clusters at once (all or nothing)."""

from __future__ import annotations

from fastapi import APIRouter

from samx_labeling.api.deps import ContextDep, Labeler, RunId, SessionDep
from samx_labeling.api.errors import CONFLICT, ERROR_RESPONSES
from samx_labeling.api.presenters import present_clusters
from samx_labeling.api.schemas import BatchLabelUpdate, ClusterList
from samx_labeling.domain import labeling

router = APIRouter(prefix="/runs/{run_id}/labels", tags=["clusters"], responses=ERROR_RESPONSES)


@router.post(
    "",
    summary="Name several clusters; one stale version or unknown cluster rejects the whole batch",
    responses=CONFLICT,
)
def post_labels(
    run_id: RunId, body: BatchLabelUpdate, session: SessionDep, context: ContextDep, user: Labeler
) -> ClusterList:
    requests = [labeling.LabelRequest(i.cluster, i.label, i.version) for i in body.items]
    changed = labeling.set_labels(session, run_id, requests, user.user)
    return ClusterList(
        items=present_clusters(
            session, labeling.get_run(session, run_id), changed, context.links, min_share=context.suggestion_min_share
        )
    )
