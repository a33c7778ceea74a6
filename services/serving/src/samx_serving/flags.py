"""The three flags of a classification: ``uncertain``, ``not_msk`` and ``tag_mismatch``.

Pure functions of the model's output, the manifest and the DICOM header; no torch, no I/O.

``not_msk`` is raised by the discard class, when the label set kept one, and by the out-of-distribution
score the model replica computes on the penultimate features (``samx_ml.ood``, calibrated in phase 2 and
stored beside the weights; ``ModelOutput``). The logit rules (max softmax, energy) stay as opt-in settings
for models without that calibration: on a small model they separate far-OOD inputs poorly
(bench/results/ood/)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from samx_core.events import ClassificationFlags, ScoredLabel
from samx_core.labels import canonical_label
from samx_ml.bundle import ModelManifest

# DICOM BodyPartExamined defined terms (PS3.16 Annex L, plus common vendor spellings) -> the SAM-X labels
# that do not contradict it. Adjacent regions are included: a hand radiograph shows the wrist and the
# fingers, and a knee study the lower leg, so predicting those is not a contradiction. The labels are
# written and compared in samx_core's canonical form (the one the labeling service publishes), so a model
# whose classes were spelled "lumbar_spine" or "Lumbar Spine" is judged the same.
BODY_PART_LABELS: dict[str, frozenset[str]] = {
    k: frozenset(canonical_label(label) for label in v)
    for k, v in {
        "ABDOMEN": {"abdomen", "pelvis", "lumbar spine", "chest"},
        "ANKLE": {"ankle", "foot", "lower leg"},
        "CHEST": {"chest", "thoracic spine", "shoulder", "clavicles", "abdomen"},
        "THORAX": {"chest", "thoracic spine", "shoulder", "clavicles", "abdomen"},
        "CLAVICLE": {"clavicles", "shoulder", "chest"},
        "CSPINE": {"cervical spine", "skull"},
        "ELBOW": {"elbow", "forearm"},
        "FINGER": {"finger", "hand"},
        "FOOT": {"foot", "ankle"},
        "FOREARM": {"forearm", "wrist", "elbow"},
        "HAND": {"hand", "finger", "wrist"},
        "HIP": {"hip", "pelvis", "thigh"},
        "KNEE": {"knee", "lower leg", "thigh"},
        "LEG": {"lower leg", "knee", "ankle", "thigh"},
        "LOWERLEG": {"lower leg", "knee", "ankle"},
        "THIGH": {"thigh", "hip", "knee"},
        "FEMUR": {"thigh", "hip", "knee"},
        "LSPINE": {"lumbar spine", "thoracic spine", "pelvis", "abdomen"},
        "TSPINE": {"thoracic spine", "lumbar spine", "cervical spine", "chest"},
        "PELVIS": {"pelvis", "hip", "abdomen", "lumbar spine"},
        "SHOULDER": {"shoulder", "clavicles", "chest"},
        "SKULL": {"skull", "sinus", "cervical spine"},
        "HEAD": {"skull", "sinus", "cervical spine"},
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


class OODPolicy(BaseModel):
    """How the model replica applies a version's OOD calibration (``SAMX_SERVING_OOD_*``)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    in_flag_rate: float | None = Field(default=None, gt=0, lt=1)  # move the threshold to this held-out rate
    threshold: float | None = None  # an explicit threshold in the score's units (wins over the rate)


@dataclass(frozen=True)
class ModelOutput:
    """The model replica's answer for one image: logits (C,) and, when the version carries an OOD
    calibration and the policy has it on, the OOD score and the threshold above which it flags."""

    logits: np.ndarray
    ood_score: float | None = None
    ood_threshold: float | None = None

    @property
    def out_of_distribution(self) -> bool:
        return self.ood_score is not None and self.ood_threshold is not None and self.ood_score > self.ood_threshold


@dataclass(frozen=True)
class Scored:
    top: list[ScoredLabel]
    flags: ClassificationFlags
    ood_score: float | None = None


def _output(logits: np.ndarray | ModelOutput) -> ModelOutput:
    return logits if isinstance(logits, ModelOutput) else ModelOutput(np.asarray(logits, dtype=np.float64))


def probabilities(logits: np.ndarray | ModelOutput) -> list[float]:
    """Softmax of (C,) logits, as plain floats."""
    z = np.asarray(_output(logits).logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return (e / e.sum()).tolist()


def score(
    logits: np.ndarray | ModelOutput,
    manifest: ModelManifest,
    *,
    top_k: int,
    body_part: str | None = None,
    ood_min_max_probability: float | None = None,
    ood_min_logsumexp: float | None = None,
) -> Scored:
    """logits (C,) of one image, or the replica's ``ModelOutput`` -> top-k labels (most probable first),
    the flags and the OOD score."""
    output = _output(logits)
    logits = np.asarray(output.logits, dtype=np.float64)
    probs = np.asarray(probabilities(logits))
    order = np.argsort(-probs, kind="stable")[: max(1, min(top_k, len(probs)))]
    top = [ScoredLabel(label=manifest.classes[i], probability=float(probs[i])) for i in order]
    best = top[0]
    min_p = ood_min_max_probability
    if min_p is None:
        min_p = manifest.metrics.get("ood_min_max_probability")
    min_lse = ood_min_logsumexp if ood_min_logsumexp is not None else manifest.metrics.get("ood_min_logsumexp")
    negative_energy = float(logits.max() + np.log(np.exp(logits - logits.max()).sum()))
    out_of_distribution = (
        output.out_of_distribution
        or (min_p is not None and best.probability < min_p)
        or (min_lse is not None and negative_energy < min_lse)
    )
    compatible = labels_for_body_part(body_part)
    return Scored(
        top=top,
        flags=ClassificationFlags(
            uncertain=best.probability < manifest.uncertain_threshold,
            not_msk=(manifest.not_msk_class is not None and best.label == manifest.not_msk_class)
            or out_of_distribution,
            tag_mismatch=compatible is not None and canonical_label(best.label) not in compatible,
        ),
        ood_score=output.ood_score,
    )
