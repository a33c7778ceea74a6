"""The names clusters can be given; admins add names with their synonyms."""

from __future__ import annotations

from fastapi import APIRouter, status
from samx_core.labels import canonical_label
from sqlalchemy import select

from samx_labeling.api.deps import Admin, SessionDep, Viewer
from samx_labeling.api.errors import CONFLICT, ERROR_RESPONSES
from samx_labeling.api.schemas import VocabularyCreate, VocabularyEntryPublic, VocabularyList
from samx_labeling.db.models import AuditEntry, VocabularyEntry, utcnow
from samx_labeling.domain.errors import ConflictError
from samx_labeling.domain.vocabulary import Vocabulary

router = APIRouter(prefix="/vocabulary", tags=["vocabulary"], responses=ERROR_RESPONSES)


@router.get("", summary="All names, with synonyms and where they came from")
def list_vocabulary(session: SessionDep, _: Viewer) -> VocabularyList:
    entries = session.scalars(select(VocabularyEntry).order_by(VocabularyEntry.name))
    return VocabularyList(items=[VocabularyEntryPublic.model_validate(e) for e in entries])


@router.post("", summary="Add a name with synonyms", status_code=status.HTTP_201_CREATED, responses=CONFLICT)
def add_name(body: VocabularyCreate, session: SessionDep, user: Admin) -> VocabularyEntryPublic:
    name = canonical_label(body.name)
    synonyms = sorted({canonical_label(s) for s in body.synonyms} - {name})
    vocabulary = Vocabulary.load(session)
    if vocabulary.known(name) is not None:
        raise ConflictError(f"{name!r} is already in the vocabulary (as {vocabulary.known(name)!r})")
    taken = [s for s in synonyms if vocabulary.known(s) is not None]
    if taken:
        raise ConflictError(f"synonym {taken[0]!r} already stands for {vocabulary.known(taken[0])!r}")
    entry = VocabularyEntry(name=name, synonyms=synonyms, origin="admin", created_by=user.user, created_at=utcnow())
    session.add(entry)
    session.add(
        AuditEntry(
            run_id="",
            cluster=None,
            action="vocabulary_add",
            who=user.user,
            at=utcnow(),
            before=None,
            after={"name": name, "synonyms": synonyms},
        )
    )
    session.commit()
    return VocabularyEntryPublic.model_validate(entry)
