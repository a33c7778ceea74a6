"""A trained phase-2 classifier as two artifacts: a JSON manifest and a torch state dict.

The manifest says everything serving needs to turn a radiograph into the model's input and its logits
into names: the backbone architecture, the size the derivative is loaded at and the eval size, the
classes in logit order, the calibrated ``uncertain`` threshold, which class (if any) means "not
musculoskeletal", and the lineage (phase-1 run, label-set version) and metrics. Storage-agnostic: the
registry in samx-core moves the bytes.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from samx_ml.backbone import Backbone
from samx_ml.classifier import Classifier

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class ModelManifest:
    version: str
    arch: str
    image_size: int  # eval size fed to the network: (B, 1, image_size, image_size)
    load_size: int  # the 8-bit derivative is first resized to (load_size, load_size), as in training
    classes: list[str]  # logit order
    run_id: str
    labelset_version: int
    trim_frame: bool = False  # uniform frames cut off before the load_size resize (older models: no)
    uncertain_threshold: float = 0.5  # top-1 probability below this -> flag "uncertain"
    not_msk_class: str | None = None  # a trained discard class, when the label set kept one
    target_layer: str = "backbone.net.layer4"  # Grad-CAM default: the last conv block
    metrics: dict[str, float] = field(default_factory=dict)
    # what the final model was trained with: samx_ml.compute.ComputePolicy.describe(), threads, workers
    training_compute: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    format: int = MANIFEST_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelManifest:
        if d.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
            raise ValueError(f"model manifest format {d.get('format')} is not supported (expects {MANIFEST_FORMAT})")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def weights_to_bytes(model: Classifier) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def load_classifier(manifest: ModelManifest, weights: bytes, device: torch.device | str = "cpu") -> Classifier:
    """Rebuild the network described by ``manifest`` and load ``weights`` (strict); eval mode."""
    model = Classifier(Backbone(manifest.arch), len(manifest.classes))
    state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


__all__ = ["MANIFEST_FORMAT", "ModelManifest", "load_classifier", "weights_to_bytes"]
