"""What the labeling page shows beside a radiograph when a classifier is served: the prediction and its
Grad-CAM overlay. The domain asks a ``Classifier`` port (``adapters.serving_classifier`` speaks serving's
HTTP API); it knows nothing of HTTP, only the three ways a call can fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ScoredName:
    label: str
    probability: float


@dataclass(frozen=True)
class Explained:
    """The served model's answer for one radiograph (no identifiers beyond the image id asked about)."""

    model_version: str
    class_name: str
    probability: float
    top: list[ScoredName]
    flags: dict[str, bool] = field(default_factory=dict)  # uncertain, not_msk, tag_mismatch
    ood_score: float | None = None
    overlay_png_base64: str = ""
    target_layer: str = ""


class ClassifierUnavailable(Exception):
    """The classifier did not answer: down, unreachable, or answering 5xx (retry later)."""


class ClassifierTimeout(ClassifierUnavailable):
    """The classifier took longer than the configured bound."""


class ClassifierRefused(Exception):
    """The classifier answered that it cannot explain this radiograph (e.g. not in its archive): ``status``
    is its 4xx, ``detail`` its message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class Classifier(Protocol):
    def explain(self, image_id: str) -> Explained: ...
