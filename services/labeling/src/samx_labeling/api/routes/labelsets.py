"""Publishing a run's names as an immutable label set, and reading published ones."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from samx_core.archive import LabelSetDocument
from sqlalchemy import select

from samx_labeling.api.deps import ContextDep, Labeler, RunId, SessionDep, Viewer
from samx_labeling.api.errors import CONFLICT, ERROR_RESPONSES, UNAVAILABLE
from samx_labeling.api.schemas import INT32, LabelSetList, LabelSetSummary
from samx_labeling.db.models import LabelSet
from samx_labeling.domain.labeling import get_run
from samx_labeling.domain.publishing import export_rows, get_label_set, publish

router = APIRouter(prefix="/runs/{run_id}", tags=["label sets"], responses=ERROR_RESPONSES)

LabelSetVersion = Annotated[int, Path(ge=1, le=INT32)]


def _summary(row: LabelSet) -> LabelSetSummary:
    return LabelSetSummary(
        run_id=row.run_id,
        version=row.version,
        published_by=row.published_by,
        published_at=row.published_at,
        classes=row.document["classes"],
        object_key=row.object_key,
        sha256=row.sha256,
    )


@router.post(
    "/publish",
    summary="Freeze the names into label set N+1, store it in the archive and announce labels.published",
    status_code=status.HTTP_201_CREATED,
    responses={
        **CONFLICT,
        **UNAVAILABLE,
        202: {"description": "Published (stored and committed); labels.published pending until Kafka is back"},
    },
    response_model=LabelSetDocument,
)
def post_publish(
    run_id: RunId,
    session: SessionDep,
    context: ContextDep,
    user: Labeler,
    allow_incomplete: Annotated[bool, Query(description="Publish although some clusters are undecided")] = False,
) -> JSONResponse:
    row = publish(session, run_id, user.user, context.sink(), allow_incomplete=allow_incomplete)
    # The stored document as it is, byte for byte what the archive holds (no re-serialization). 202 when
    # it is published (stored, committed, version N taken for good) but not yet announced: Kafka is down,
    # and the service announces it when the broker is back.
    if row.announced_at is None:
        return JSONResponse(row.document, status_code=status.HTTP_202_ACCEPTED, headers={"SAMX-Announced": "pending"})
    return JSONResponse(row.document, status_code=status.HTTP_201_CREATED, headers={"SAMX-Announced": "yes"})


@router.get("/labelsets", summary="Published label sets of the run")
def list_label_sets(run_id: RunId, session: SessionDep, _: Viewer) -> LabelSetList:
    get_run(session, run_id)
    rows = session.scalars(select(LabelSet).where(LabelSet.run_id == run_id).order_by(LabelSet.version))
    return LabelSetList(items=[_summary(r) for r in rows])


@router.get(
    "/labelsets/{version}.csv",
    summary="Export: image_id, cluster, label (empty when discarded or unnamed)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_label_set(run_id: RunId, version: LabelSetVersion, context: ContextDep, _: Viewer) -> Response:
    def build() -> str:
        with context.sessions() as session:
            rows = export_rows(session, get_label_set(session, run_id, version))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["image_id", "cluster", "label"])
        writer.writerows(rows)
        return out.getvalue()

    text = await run_in_threadpool(build)
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="labelset-{run_id}-v{version}.csv"'},
    )


@router.get(
    "/labelsets/{version}",
    summary="One published label set (the JSON stored in the archive)",
    response_model=LabelSetDocument,
)
def read_label_set(run_id: RunId, version: LabelSetVersion, session: SessionDep, _: Viewer) -> JSONResponse:
    return JSONResponse(get_label_set(session, run_id, version).document)
