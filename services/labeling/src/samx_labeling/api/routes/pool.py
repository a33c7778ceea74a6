"""The run's excluded pool, radiograph by radiograph: name one (it then trains under that name) or undo
its latest name. Versioned per radiograph (``label_version``) and audited with its image id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from samx_labeling.api.deps import ContextDep, Labeler, RunId, SessionDep
from samx_labeling.api.errors import CONFLICT, ERROR_RESPONSES
from samx_labeling.api.presenters import present_members
from samx_labeling.api.schemas import INT32, LabelText, MemberPublic
from samx_labeling.domain import image_names
from samx_labeling.domain.labeling import get_run

router = APIRouter(prefix="/runs/{run_id}/excluded", tags=["curation"], responses=ERROR_RESPONSES)

ImageId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="An excluded radiograph")]
ImageVersion = Annotated[int, Field(ge=1, le=INT32, description="The radiograph's label_version the writer saw")]


class ImageLabelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: LabelText
    version: ImageVersion


class ImageUndo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: ImageVersion


def _shown(session, context, run_id: str, member) -> MemberPublic:
    [item] = present_members(get_run(session, run_id), [member], context.links)
    return item


@router.put(
    "/{image_id}/label",
    summary="Name one excluded radiograph (phase 2 trains it under this name)",
    responses=CONFLICT,
)
def put_image_label(
    run_id: RunId, image_id: ImageId, body: ImageLabelUpdate, session: SessionDep, context: ContextDep, user: Labeler
) -> MemberPublic:
    member = image_names.name_image(session, run_id, image_id, body.label, body.version, user.user)
    return _shown(session, context, run_id, member)


@router.post(
    "/{image_id}/undo",
    summary="Undo the latest name of one excluded radiograph",
    responses=CONFLICT,
)
def post_image_undo(
    run_id: RunId, image_id: ImageId, body: ImageUndo, session: SessionDep, context: ContextDep, user: Labeler
) -> MemberPublic:
    member = image_names.undo_image(session, run_id, image_id, body.version, user.user)
    return _shown(session, context, run_id, member)
