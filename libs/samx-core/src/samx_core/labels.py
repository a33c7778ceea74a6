"""Names of anatomical regions: one canonical form for every service.

A class name travels far: the radiologist types it on the labeling page, the label set carries it to
phase 2, the model manifest lists it, serving compares it with a DICOM BodyPartExamined, and
``evaluate`` matches it against a folder's ``labels.csv``. If any of them spelled it differently
("lumbar_spine" vs "lumbar spine"), a correct prediction would count as a contradiction or a miss. So
every service folds names through this module and nowhere else:

- :func:`canonical_label`: case, whitespace and underscores folded (``' Lumbar_Spine '`` ->
  ``'lumbar spine'``); hyphens are kept, since they can be part of a new name.
- :func:`label_key`: a looser key for synonym lookup, hyphens counted as spaces (``'c-spine'`` ==
  ``'c spine'``).
- :class:`LabelNames`: a vocabulary (names and their synonyms) that resolves any spelling to its name;
  :data:`SEED_VOCABULARY` is the one every archive starts with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# The UNIFESP X-ray Body Part classes, written with spaces, plus common variants.
SEED_VOCABULARY: Mapping[str, tuple[str, ...]] = {
    "abdomen": ("abdominal", "abd"),
    "ankle": ("ankles",),
    "cervical spine": ("c-spine", "c spine", "cspine", "neck"),
    "chest": ("thorax", "cxr", "lungs"),
    "clavicles": ("clavicle", "collarbone", "collarbones"),
    "elbow": ("elbows",),
    "finger": ("fingers", "digit", "thumb"),
    "foot": ("feet",),
    "forearm": ("forearms", "radius ulna"),
    "hand": ("hands",),
    "hip": ("hips",),
    "knee": ("knees",),
    "lower leg": ("tibia", "tibia fibula", "shin", "lower legs"),
    "lumbar spine": ("l-spine", "l spine", "lspine", "lumbar"),
    "other": (),
    "pelvis": ("pelvic", "pelves"),
    "shoulder": ("shoulders",),
    "sinus": ("sinuses", "paranasal sinuses"),
    "skull": ("head", "cranium"),
    "thigh": ("thighs", "femur"),
    "thoracic spine": ("t-spine", "t spine", "tspine", "thoracic"),
    "wrist": ("wrists",),
}

LABEL_SEPARATOR = ";"  # between the regions of one radiograph in a labels.csv ("hand;wrist")


def canonical_label(text: str) -> str:
    """Case, whitespace and underscores folded: ``' Cervical_Spine '`` -> ``'cervical spine'``."""
    folded = text.strip().lower().replace("_", " ")
    return re.sub(r"\s+", " ", folded)


def label_key(text: str) -> str:
    """The synonym-lookup key: hyphens count as spaces too (``'c-spine'`` == ``'c spine'``)."""
    return canonical_label(text.replace("-", " "))


class LabelNames:
    """A vocabulary: each name with its synonyms; resolves any spelling of either to the name."""

    def __init__(self, vocabulary: Mapping[str, Iterable[str]]) -> None:
        self._lookup: dict[str, str] = {}
        for name in vocabulary:
            self._lookup[label_key(name)] = canonical_label(name)
        for name, synonyms in vocabulary.items():  # names win over synonyms when both exist
            for synonym in synonyms:
                self._lookup.setdefault(label_key(synonym), canonical_label(name))

    def known(self, text: str) -> str | None:
        """The vocabulary's name for ``text``, or None when it names nothing the vocabulary has."""
        return self._lookup.get(label_key(text))

    def resolve(self, text: str) -> str:
        """The vocabulary's name, or the canonical form of a name the vocabulary lacks."""
        return self.known(text) or canonical_label(text)

    def resolve_set(self, labels: str, sep: str = LABEL_SEPARATOR) -> str:
        """One ``labels.csv`` cell, each region resolved: ``'Lumbar_Spine; hands'`` -> ``'lumbar spine;hand'``.
        The order (the first is the primary label) is kept; a repeated region is kept once."""
        names = [self.resolve(part) for part in (labels or "").split(sep) if part.strip()]
        return sep.join(dict.fromkeys(names))


SEED_NAMES = LabelNames(SEED_VOCABULARY)
