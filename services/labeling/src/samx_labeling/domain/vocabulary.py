"""Names of anatomical regions and how a typed label becomes one.

Normalization (case, spaces, underscores and hyphens vs spaces, synonyms) makes "Hands", "hand" and
" HAND " one class, and "c-spine" the same as "cervical spine": clusters with the same name merge in
phase 2, so spelling variants would otherwise split a class. New names are allowed (an archive may hold
regions the seed lacks) and recorded with who first used them."""

from __future__ import annotations

import re

from samx_core.labels import SEED_VOCABULARY, LabelNames, canonical_label
from sqlalchemy import select
from sqlalchemy.orm import Session

from samx_labeling.db.models import VocabularyEntry, utcnow

# The seed names and their synonyms are samx_core's, so that serving and evaluate spell them the same.
SEED: dict[str, list[str]] = {name: list(synonyms) for name, synonyms in SEED_VOCABULARY.items()}

MAX_LABEL_LENGTH = 64
# Letters (any script), digits, spaces and a few joiners; no control characters, no markup.
LABEL_PATTERN = re.compile(r"^[^\W_][\w '()/.+-]*$")


def is_valid_label(text: str) -> bool:
    form = canonical_label(text)
    return 0 < len(form) <= MAX_LABEL_LENGTH and LABEL_PATTERN.match(form) is not None


class Vocabulary:
    """A snapshot of the vocabulary table, for normalizing many labels in one request."""

    def __init__(self, entries: list[VocabularyEntry]) -> None:
        self._names = LabelNames({entry.name: entry.synonyms for entry in entries})

    @classmethod
    def load(cls, session: Session) -> Vocabulary:
        return cls(list(session.scalars(select(VocabularyEntry))))

    def normalize(self, text: str) -> tuple[str, bool]:
        """(the name, whether it is already in the vocabulary)."""
        known = self._names.known(text)
        return (known, True) if known else (canonical_label(text), False)

    def known(self, text: str) -> str | None:
        return self._names.known(text)


def record_new_name(session: Session, name: str, who: str) -> None:
    """A labeler used a name the vocabulary lacked: keep it, so the next cluster can pick it."""
    if session.get(VocabularyEntry, name) is None:
        session.add(VocabularyEntry(name=name, synonyms=[], origin="label", created_by=who, created_at=utcnow()))


def seed_vocabulary(session: Session) -> int:
    """Adds the seed names that are missing (idempotent); returns how many were added."""
    present = set(session.scalars(select(VocabularyEntry.name)))
    missing = [name for name in SEED if name not in present]
    for name in missing:
        session.add(VocabularyEntry(name=name, synonyms=SEED[name], origin="seed", created_at=utcnow()))
    session.commit()
    return len(missing)
