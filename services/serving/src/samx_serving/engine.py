"""One loaded classifier version and what it computes: logits for a batch, Grad-CAM for one image.

No Ray, no HTTP: the Serve deployment holds an engine and swaps it whole on a new version, so a request
that started on the old engine finishes on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from samx_core.imaging import to_uint8_square
from samx_core.imaging.model_input import content_box
from samx_core.model_registry import ModelRegistry
from samx_ml.augment import eval_transform
from samx_ml.bundle import ModelManifest, load_classifier
from samx_ml.classifier import Classifier
from samx_ml.ood import features_and_logits

from samx_serving.gradcam import grad_cam, layer_for_resolution, resolve_layer
from samx_serving.preprocess import to_model_input


@dataclass(frozen=True)
class Explanation:
    manifest: ModelManifest
    logits: np.ndarray  # (C,)
    class_index: int
    cam: np.ndarray  # (S, S) float32 in [0, 1], S = manifest.image_size
    raw: np.ndarray  # (h, w) float32, the target layer's resolution
    image: np.ndarray  # (S, S) uint8: the squared input the model saw
    target_layer: str
    # (top, bottom, left, right) of the radiograph the square was made from (the frame trim's box), in
    # its own pixels: where the map goes back onto the radiograph, in its aspect ratio.
    box: tuple[int, int, int, int]


class ModelEngine:
    def __init__(self, manifest: ModelManifest, model: Classifier, *, target_layer: str | None = None) -> None:
        self.manifest = manifest
        self.model = model
        # A configured layer, else the one that leaves a legible map at the model's input size.
        self.target_layer = target_layer or layer_for_resolution(model, manifest.image_size) or manifest.target_layer
        resolve_layer(model, self.target_layer)  # fail at load, not at the first explain

    @classmethod
    def from_registry(
        cls, registry: ModelRegistry, version: str, *, target_layer: str | None = None, device: str = "cpu"
    ) -> ModelEngine:
        manifest = ModelManifest.from_dict(registry.manifest(version))
        model = load_classifier(manifest, registry.weights(version), device)
        for p in model.parameters():
            p.requires_grad_(False)  # Grad-CAM needs the activations' gradient only
        return cls(manifest, model, target_layer=target_layer)

    @property
    def version(self) -> str:
        return self.manifest.version

    def _input(self, pixels: list[np.ndarray]) -> torch.Tensor:
        m = self.manifest
        x = to_model_input(pixels, m.load_size, m.image_size, m.trim_frame)
        return x.to(next(self.model.parameters()).device)

    @torch.inference_mode()
    def logits(self, pixels: list[np.ndarray]) -> np.ndarray:
        """N display images (2-D uint8/uint16, any size) -> (N, C) float32 logits."""
        return self.model(self._input(pixels)).float().cpu().numpy()

    @torch.inference_mode()
    def features_and_logits(self, pixels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The same pass, also giving the OOD score's features (N, F) (samx_ml.ood.features_and_logits)."""
        features, logits = features_and_logits(self.model, self._input(pixels))
        return features.cpu().numpy(), logits.cpu().numpy()

    def explain(self, pixels: np.ndarray, class_name: str | None = None) -> Explanation:
        """Grad-CAM of one image for ``class_name`` (default: the top-1 class)."""
        index = None
        if class_name is not None:
            if class_name not in self.manifest.classes:
                raise KeyError(class_name)
            index = torch.tensor([self.manifest.classes.index(class_name)])
        m = self.manifest
        box = content_box(pixels) if m.trim_frame else (0, pixels.shape[0], 0, pixels.shape[1])
        top, bottom, left, right = box  # trimmed here, once: the box places the map back on the radiograph
        content = pixels[top:bottom, left:right]
        squared = torch.from_numpy(to_uint8_square(content, m.load_size))[None, None]
        x = eval_transform(squared, m.image_size)  # what to_model_input gives, from the square made once
        device = next(self.model.parameters()).device
        result = grad_cam(self.model, x.to(device), self.target_layer, None if index is None else index.to(device))
        logits = result.logits[0].float().cpu().numpy()
        chosen = int(index.item()) if index is not None else int(logits.argmax())
        seen = F.interpolate(squared.float(), size=(m.image_size, m.image_size), mode="bilinear", antialias=True)
        image = seen[0, 0].clamp(0, 255).round().to(torch.uint8).numpy()
        return Explanation(
            m,
            logits,
            chosen,
            result.cam[0].cpu().numpy().astype(np.float32),
            result.raw[0].cpu().numpy(),
            image,
            self.target_layer,
            (int(top), int(bottom), int(left), int(right)),
        )
