"""Names of anatomical regions and how a typed label becomes one.

Normalization (case, spaces, underscores and hyphens vs spaces, synonyms) makes "Hands", "hand" and
" HAND " one class, and "c-spine" the same as "cervical spine": clusters with the same name merge in
phase 2, so spelling variants would otherwise split a class. New names are allowed (an archive may hold
regions the seed lacks) and recorded with who first used them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from samx_labeling.db.models import VocabularyEntry, utcnow

# The UNIFESP X-ray Body Part classes (data/sample/labels.csv), written with spaces, plus common variants.
SEED: dict[str, list[str]] = {
    "abdomen": ["abdominal", "abd"],
    "ankle": ["ankles"],
    "cervical spine": ["c-spine", "c spine", "cspine", "neck"],
    "chest": ["thorax", "cxr", "lungs"],
    "clavicles": ["clavicle", "collarbone", "collarbones"],
    "elbow": ["elbows"],
    "finger": ["fingers", "digit", "thumb"],
    "foot": ["feet"],
    "forearm": ["forearms", "radius ulna"],
    "hand": ["hands"],
    "hip": ["hips"],
    "knee": ["knees"],
    "lower leg": ["tibia", "tibia fibula", "shin", "lower legs"],
    "lumbar spine": ["l-spine", "l spine", "lspine", "lumbar"],
    "other": [],
    "pelvis": ["pelvic", "pelves"],
    "shoulder": ["shoulders"],
    "sinus": ["sinuses", "paranasal sinuses"],
    "skull": ["head", "cranium"],
    "thigh": ["thighs", "femur"],
    "thoracic spine": ["t-spine", "t spine", "tspine", "thoracic"],
    "wrist": ["wrists"],
}

MAX_LABEL_LENGTH = 64
# Letters (any script), digits, spaces and a few joiners; no control characters, no markup.
LABEL_PATTERN = re.compile(r"^[^\W_][\w '()/.+-]*$")


def canonical_form(text: str) -> str:
    """Case, whitespace and separators folded: ' Cervical_Spine ' -> 'cervical spine'."""
    folded = text.strip().lower().replace("_", " ")
    return re.sub(r"\s+", " ", folded)


def synonym_key(text: str) -> str:
    """A looser key for synonym lookup: hyphens count as spaces too ('c-spine' == 'c spine')."""
    return canonical_form(text.replace("-", " "))


def is_valid_label(text: str) -> bool:
    form = canonical_form(text)
    return 0 < len(form) <= MAX_LABEL_LENGTH and LABEL_PATTERN.match(form) is not None


class Vocabulary:
    """A snapshot of the vocabulary table, for normalizing many labels in one request."""

    def __init__(self, entries: list[VocabularyEntry]) -> None:
        self._lookup: dict[str, str] = {}
        for entry in entries:
            self._lookup[synonym_key(entry.name)] = entry.name
        for entry in entries:  # names win over synonyms when both exist
            for synonym in entry.synonyms:
                self._lookup.setdefault(synonym_key(synonym), entry.name)

    @classmethod
    def load(cls, session: Session) -> Vocabulary:
        return cls(list(session.scalars(select(VocabularyEntry))))

    def normalize(self, text: str) -> tuple[str, bool]:
        """(the name, whether it is already in the vocabulary)."""
        known = self._lookup.get(synonym_key(text))
        return (known, True) if known else (canonical_form(text), False)

    def known(self, text: str) -> str | None:
        return self._lookup.get(synonym_key(text))


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
