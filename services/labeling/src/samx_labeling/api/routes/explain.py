"""The served classifier's view of one radiograph of a run: prediction, top-2, flags and the Grad-CAM
overlay, fetched from serving through the ``Classifier`` port. No classifier configured is an answer
(``connected: false``), not a failure; serving down or slow is a 503 / 504 with a message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from samx_labeling.api.deps import ContextDep, RunId, SessionDep, Viewer
from samx_labeling.api.errors import ERROR_RESPONSES
from samx_labeling.api.schemas import ErrorBody
from samx_labeling.db.models import Member
from samx_labeling.domain.errors import NotFoundError
from samx_labeling.domain.explaining import ClassifierRefused, ClassifierTimeout, ClassifierUnavailable
from samx_labeling.domain.labeling import get_run

router = APIRouter(prefix="/runs/{run_id}/images", tags=["classifier"], responses=ERROR_RESPONSES)

ImageId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="A radiograph of the run")]
NOT_CONNECTED = "no classifier connected (set SAMX_LABELING_SERVING_URL and SAMX_LABELING_SERVING_TOKEN)"


class ScoredNamePublic(BaseModel):
    label: str
    probability: float


class ExplanationPublic(BaseModel):
    image_id: str
    connected: bool = Field(description="false: no classifier is configured; the other fields are empty")
    message: str | None = None
    model_version: str | None = None
    class_name: str | None = Field(default=None, description="The explained (top-1) class")
    probability: float | None = None
    top: list[ScoredNamePublic] = Field(default_factory=list, description="Top-k of the served model (k >= 2)")
    flags: dict[str, bool] = Field(default_factory=dict, description="uncertain, not_msk, tag_mismatch")
    ood_score: float | None = None
    overlay_png_base64: str | None = Field(default=None, description="Grad-CAM on the radiograph, with a colour bar")
    target_layer: str | None = None


@router.get(
    "/{image_id}/explain",
    summary="The served classifier's prediction and Grad-CAM overlay for a radiograph of the run",
    response_model=ExplanationPublic,
    responses={
        503: {"model": ErrorBody, "description": "The classifier is unreachable or has no model"},
        504: {"model": ErrorBody, "description": "The classifier did not answer in time"},
        502: {"model": ErrorBody, "description": "The classifier refused to explain this radiograph"},
    },
)
def get_explanation(
    run_id: RunId, image_id: ImageId, session: SessionDep, context: ContextDep, _: Viewer
) -> ExplanationPublic | JSONResponse:
    get_run(session, run_id)
    if session.get(Member, (run_id, image_id)) is None:
        raise NotFoundError(f"radiograph {image_id!r} is not in run {run_id!r}")
    session.close()  # the explain call may take seconds: hold no database connection meanwhile
    if context.classifier is None:
        return ExplanationPublic(image_id=image_id, connected=False, message=NOT_CONNECTED)
    try:
        found = context.classifier.explain(image_id)
    except ClassifierTimeout as exc:
        return JSONResponse({"detail": str(exc)}, status_code=504)
    except ClassifierUnavailable as exc:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
    except ClassifierRefused as exc:
        if exc.status == 404:
            raise NotFoundError(f"the classifier's archive has no radiograph {image_id!r}: {exc.detail}") from None
        return JSONResponse(
            {"detail": f"the classifier refused to explain this radiograph ({exc.status}): {exc.detail}"},
            status_code=502,
        )
    return ExplanationPublic(
        image_id=image_id,
        connected=True,
        model_version=found.model_version,
        class_name=found.class_name,
        probability=found.probability,
        top=[ScoredNamePublic(label=t.label, probability=t.probability) for t in found.top],
        flags=found.flags,
        ood_score=found.ood_score,
        overlay_png_base64=found.overlay_png_base64 or None,
        target_layer=found.target_layer or None,
    )
