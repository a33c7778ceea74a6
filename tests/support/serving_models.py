"""Phase-2 classifiers for serving tests and benchmarks: real ``Classifier`` networks with seeded random
weights (the tests are about plumbing, not accuracy), stored in the model registry like the trainer
stores them."""

from __future__ import annotations

import numpy as np
import torch
from samx_core.events import ModelPublished
from samx_core.imaging import to_uint8_square
from samx_core.model_registry import ModelRegistry
from samx_ml import ood
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


def manifest_for_test(version: str, classes: list[str], image_size: int, load_size: int, **fields) -> ModelManifest:
    """A ResNet-18 version's manifest as phase 2 writes it, for a test run."""
    return ModelManifest(
        version=version,
        arch="resnet18",
        image_size=image_size,
        load_size=load_size,
        classes=classes,
        run_id="test-run",
        labelset_version=1,
        **fields,
    )


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
    manifest = manifest_for_test(version, classes, image_size, load_size, **manifest_fields)
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


def shipped_backbone_classifier(classes: list[str], *, seed: int) -> Classifier:
    """The shipped pretrained backbone with a seeded random head: radiograph features that mean something
    (what an OOD score needs), with no training in the test."""
    from samx_ml.pretrained import resolve_init, shipped_model

    shipped = resolve_init("default")
    if shipped is None:
        raise RuntimeError("samx-ml ships no backbone")
    torch.manual_seed(seed)
    model = Classifier(shipped_model(shipped).backbone, len(classes)).eval()
    with torch.no_grad():
        model.head.weight.mul_(20.0)
    return model


def publish_calibrated_model(
    registry: ModelRegistry,
    version: str,
    radiographs: list[tuple[np.ndarray, int]],
    held_out: list[np.ndarray],
    *,
    seed: int,
    classes: list[str] | None = None,
    image_size: int = 64,
    in_flag_rate: float = ood.DEFAULT_IN_FLAG_RATE,
) -> ModelManifest:
    """Store a version with an OOD calibration as phase 2 stores one: the score fitted on the training
    radiographs' (display pixels, class index) features, the threshold on the held-out radiographs'."""
    classes = classes or SAMPLE_CLASSES
    model = shipped_backbone_classifier(classes, seed=seed)

    def squares(pixels: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack([to_uint8_square(p, image_size) for p in pixels]))[:, None]

    fit_features, _ = ood.features_of(model, squares([p for p, _ in radiographs]), image_size)
    held_features, _ = ood.features_of(model, squares(held_out), image_size)
    labels = np.array([c for _, c in radiographs])
    detector = ood.fit(ood.DEFAULT_METHOD, fit_features, labels, ood.block_dims(model))
    detector = detector.calibrated(held_features, in_flag_rate)
    metrics = {"ood_threshold": detector.threshold, "ood_in_flag_rate": in_flag_rate}
    manifest = manifest_for_test(version, classes, image_size, image_size, metrics=metrics)
    registry.put(version, manifest.to_dict(), weights_to_bytes(model), ood=detector.to_bytes())
    return manifest
