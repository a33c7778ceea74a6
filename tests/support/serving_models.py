"""Phase-2 classifiers for serving tests and benchmarks: real ``Classifier`` networks with seeded random
weights (the tests are about plumbing, not accuracy), stored in the model registry like the trainer
stores them."""

from __future__ import annotations

import torch
from samx_core.events import ModelPublished
from samx_core.model_registry import ModelRegistry
from samx_ml.backbone import Backbone
from samx_ml.bundle import ModelManifest, weights_to_bytes
from samx_ml.classifier import Classifier

# The sample's regions as the labeling service publishes them (samx_core's canonical names).
SAMPLE_CLASSES = [
    "abdomen", "ankle", "cervical spine", "chest", "elbow", "finger", "foot", "forearm", "hand", "hip", "knee",
    "lower leg", "lumbar spine", "pelvis", "shoulder", "sinus", "skull", "wrist",
]  # fmt: skip


def random_classifier(classes: list[str], *, seed: int, arch: str = "resnet18") -> Classifier:
    torch.manual_seed(seed)
    model = Classifier(Backbone(arch), len(classes)).eval()
    with torch.no_grad():  # a spread of logits, so top-1 probabilities vary between images
        model.head.weight.mul_(20.0)
    return model


def publish_random_model(
    registry: ModelRegistry,
    version: str,
    *,
    seed: int,
    classes: list[str] | None = None,
    image_size: int = 64,
    load_size: int = 64,
    promote: bool = True,
    **manifest_fields,
) -> ModelPublished:
    """Store a version (and promote it); returns the ``model.published`` event the trainer would emit."""
    classes = classes or SAMPLE_CLASSES
    manifest = ModelManifest(
        version=version,
        arch="resnet18",
        image_size=image_size,
        load_size=load_size,
        classes=classes,
        run_id="test-run",
        labelset_version=1,
        **manifest_fields,
    )
    m, w = registry.put(version, manifest.to_dict(), weights_to_bytes(random_classifier(classes, seed=seed)))
    if promote:
        registry.promote(version)
    return ModelPublished(
        model_version=version,
        manifest=m.ref(),
        weights=w.ref(),
        classes=classes,
        run_id="test-run",
        labelset_version=1,
    )
