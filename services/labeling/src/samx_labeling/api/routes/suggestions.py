"""Suggested names per cluster (from known labels or DICOM tags), and accepting them explicitly."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from samx_labeling.api.deps import ContextDep, Labeler, RunId, SessionDep, Viewer
from samx_labeling.api.errors import ERROR_RESPONSES
from samx_labeling.api.schemas import AcceptRequest, AcceptResult, SuggestionList, SuggestionPublic, SuggestionUpload
from samx_labeling.db.models import AuditEntry, Suggestion, utcnow
from samx_labeling.domain.errors import InvalidInputError
from samx_labeling.domain.labeling import accept_suggestions, get_run
from samx_labeling.domain.suggestions import csv_suggestions, store_known_labels, store_suggestions
from samx_labeling.domain.vocabulary import Vocabulary

router = APIRouter(prefix="/runs/{run_id}/suggestions", tags=["suggestions"], responses=ERROR_RESPONSES)

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "CSV with a 'labels' column (';' between several) and 'image_id' or 'sha256'",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("", summary="Every suggestion of the run, all sources")
def list_suggestions(run_id: RunId, session: SessionDep, _: Viewer) -> SuggestionList:
    get_run(session, run_id)
    rows = session.scalars(
        select(Suggestion).where(Suggestion.run_id == run_id).order_by(Suggestion.cluster, Suggestion.source)
    )
    return SuggestionList(items=[SuggestionPublic.model_validate(s) for s in rows])


@router.post(
    "",
    summary="Upload known labels (CSV): majority name per cluster with its share; replaces earlier uploads",
    openapi_extra=_CSV_BODY,
)
async def upload_known_labels(run_id: RunId, request: Request, session: SessionDep, user: Labeler) -> SuggestionUpload:
    get_run(session, run_id)
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("the CSV is not UTF-8 text") from None
    outcome = csv_suggestions(session, run_id, text, Vocabulary.load(session))
    store_suggestions(session, run_id, "csv", outcome.proposals)
    store_known_labels(session, run_id, outcome.known)
    session.add(
        AuditEntry(
            run_id=run_id,
            cluster=None,
            action="suggestions_upload",
            who=user.user,
            at=utcnow(),
            before=None,
            after={"rows": outcome.rows, "matched": outcome.matched_images, "clusters": len(outcome.proposals)},
        )
    )
    session.commit()
    return SuggestionUpload(
        rows=outcome.rows,
        matched_images=outcome.matched_images,
        unmatched_rows=outcome.unmatched_rows,
        clusters_suggested=len(outcome.proposals),
    )


@router.post("/accept", summary="Name every still-unlabeled cluster after its suggestion (audited)")
def accept(run_id: RunId, body: AcceptRequest, session: SessionDep, user: Labeler, context: ContextDep) -> AcceptResult:
    threshold = context.suggestion_min_share
    min_share = threshold if body.min_share is None else body.min_share
    if min_share < threshold and not body.confirm_below_threshold:
        raise InvalidInputError(
            f"min_share {min_share:g} is under the threshold {threshold:g}: clusters whose known radiographs "
            "agree that little are likely mixed; look at them, or set confirm_below_threshold to accept anyway"
        )
    outcome = accept_suggestions(session, run_id, user.user, source=body.source, min_share=min_share)
    return AcceptResult(
        accepted=outcome.accepted, skipped=outcome.skipped, below_threshold=outcome.below_threshold, min_share=min_share
    )
