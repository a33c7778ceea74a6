"""Who changed what, when: the run's audit log, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from samx_labeling.api.deps import RunId, SessionDep, Viewer
from samx_labeling.api.errors import ERROR_RESPONSES
from samx_labeling.api.schemas import INT32, AuditEntryPublic, AuditPage
from samx_labeling.db.models import AuditEntry
from samx_labeling.domain.labeling import get_run

router = APIRouter(prefix="/runs/{run_id}/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", summary="Audit entries of the run, newest first")
def list_audit(
    run_id: RunId,
    session: SessionDep,
    _: Viewer,
    cluster: Annotated[int | None, Query(ge=0, le=INT32, description="Only this cluster")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    get_run(session, run_id)
    query = select(AuditEntry).where(AuditEntry.run_id == run_id)
    if cluster is not None:
        query = query.where(AuditEntry.cluster == cluster)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit))
    return AuditPage(items=[AuditEntryPublic.model_validate(r) for r in rows], total=total, offset=offset, limit=limit)
