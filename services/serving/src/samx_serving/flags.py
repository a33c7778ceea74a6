"""The three flags of a classification: ``uncertain``, ``not_msk`` and ``tag_mismatch``.

Pure functions of the logits, the manifest and the DICOM header; no torch, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from samx_core.events import ClassificationFlags, ScoredLabel
from samx_ml.bundle import ModelManifest

# DICOM BodyPartExamined defined terms (PS3.16 Annex L, plus common vendor spellings) -> the SAM-X labels
# that do not contradict it. Adjacent regions are included: a hand radiograph shows the wrist and the
# fingers, and a knee study the lower leg, so predicting those is not a contradiction.
BODY_PART_LABELS: dict[str, frozenset[str]] = {
    k: frozenset(v)
    for k, v in {
        "ABDOMEN": {"abdomen", "pelvis", "lumbar_spine", "chest"},
        "ANKLE": {"ankle", "foot", "lower_leg"},
        "CHEST": {"chest", "thoracic_spine", "shoulder", "clavicles", "abdomen"},
        "THORAX": {"chest", "thoracic_spine", "shoulder", "clavicles", "abdomen"},
        "CLAVICLE": {"clavicles", "shoulder", "chest"},
        "CSPINE": {"cervical_spine", "skull"},
        "ELBOW": {"elbow", "forearm"},
        "FINGER": {"finger", "hand"},
        "FOOT": {"foot", "ankle"},
        "FOREARM": {"forearm", "wrist", "elbow"},
        "HAND": {"hand", "finger", "wrist"},
        "HIP": {"hip", "pelvis", "thigh"},
        "KNEE": {"knee", "lower_leg", "thigh"},
        "LEG": {"lower_leg", "knee", "ankle", "thigh"},
        "LOWERLEG": {"lower_leg", "knee", "ankle"},
        "THIGH": {"thigh", "hip", "knee"},
        "FEMUR": {"thigh", "hip", "knee"},
        "LSPINE": {"lumbar_spine", "thoracic_spine", "pelvis", "abdomen"},
        "TSPINE": {"thoracic_spine", "lumbar_spine", "cervical_spine", "chest"},
        "PELVIS": {"pelvis", "hip", "abdomen", "lumbar_spine"},
        "SHOULDER": {"shoulder", "clavicles", "chest"},
        "SKULL": {"skull", "sinus", "cervical_spine"},
        "HEAD": {"skull", "sinus", "cervical_spine"},
        "SINUS": {"sinus", "skull"},
        "PARANASALSINUS": {"sinus", "skull"},
        "WRIST": {"wrist", "hand", "forearm"},
    }.items()
}


def labels_for_body_part(body_part: str | None) -> frozenset[str] | None:
    """Labels compatible with a BodyPartExamined value; None when the tag is absent or unknown (no opinion)."""
    if not body_part:
        return None
    key = "".join(ch for ch in body_part.upper() if ch.isalnum())
    return BODY_PART_LABELS.get(key)


@dataclass(frozen=True)
class Scored:
    top: list[ScoredLabel]
    flags: ClassificationFlags


def probabilities(logits: np.ndarray) -> list[float]:
    """Softmax of (C,) logits, as plain floats."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return (e / e.sum()).tolist()


def score(
    logits: np.ndarray,
    manifest: ModelManifest,
    *,
    top_k: int,
    body_part: str | None = None,
    ood_min_max_probability: float | None = None,
    ood_min_logsumexp: float | None = None,
) -> Scored:
    """logits (C,) of one image -> top-k labels (most probable first) and the flags."""
    logits = np.asarray(logits, dtype=np.float64)
    probs = np.asarray(probabilities(logits))
    order = np.argsort(-probs, kind="stable")[: max(1, min(top_k, len(probs)))]
    top = [ScoredLabel(label=manifest.classes[i], probability=float(probs[i])) for i in order]
    best = top[0]
    min_p = ood_min_max_probability
    if min_p is None:
        min_p = manifest.metrics.get("ood_min_max_probability")
    min_lse = ood_min_logsumexp if ood_min_logsumexp is not None else manifest.metrics.get("ood_min_logsumexp")
    negative_energy = float(logits.max() + np.log(np.exp(logits - logits.max()).sum()))
    out_of_distribution = (min_p is not None and best.probability < min_p) or (
        min_lse is not None and negative_energy < min_lse
    )
    compatible = labels_for_body_part(body_part)
    return Scored(
        top=top,
        flags=ClassificationFlags(
            uncertain=best.probability < manifest.uncertain_threshold,
            not_msk=(manifest.not_msk_class is not None and best.label == manifest.not_msk_class)
            or out_of_distribution,
            tag_mismatch=compatible is not None and best.label not in compatible,
        ),
    )
