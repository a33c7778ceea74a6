"""Grad-CAM sanity (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018, in spirit): the map
depends on the class asked for, and it moves with the object in the image."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from samx_ml.backbone import Backbone
from samx_ml.classifier import Classifier
from samx_serving.gradcam import grad_cam, resolve_layer

SIZE = 128  # ResNet-18 layer4 has stride 32: a (4, 4) map
LAYER = "backbone.net.layer4"


def _blob(x0: int, y0: int, side: int = 24) -> torch.Tensor:
    image = torch.zeros(1, 1, SIZE, SIZE)
    image[..., y0 : y0 + side, x0 : x0 + side] = 3.0
    return image


@pytest.fixture(scope="module")
def blob_model() -> Classifier:
    """A ResNet-18 with random conv weights whose class 0 is a linear probe for "a blob is present":
    its head weights are the pooled-feature difference between a blob image and a blank one."""
    torch.manual_seed(0)
    model = Classifier(Backbone("resnet18"), 3).eval()
    with torch.no_grad():
        model.head.weight[0] = model.backbone(_blob(20, 20))[0] - model.backbone(torch.zeros(1, 1, SIZE, SIZE))[0]
    return model


def _peak(model: Classifier, image: torch.Tensor) -> tuple[int, int]:
    raw = grad_cam(model, image, LAYER, torch.tensor([0])).raw[0]
    return divmod(int(raw.argmax()), raw.shape[1])


def test_shapes_and_range(blob_model):
    result = grad_cam(blob_model, torch.randn(2, 1, SIZE, SIZE), LAYER)
    assert result.logits.shape == (2, 3)
    assert result.raw.shape == (2, 4, 4) and (result.raw >= 0).all()
    assert result.cam.shape == (2, SIZE, SIZE) and result.cam.min() >= 0 and result.cam.max() <= 1


def test_the_map_follows_a_shifted_object(blob_model):
    row, col = _peak(blob_model, _blob(20, 20))
    assert _peak(blob_model, _blob(20 + 64, 20)) == (row, col + 2)  # 64 px = 2 cells of stride 32
    assert _peak(blob_model, _blob(20, 20 + 64)) == (row + 2, col)


def test_the_map_depends_on_the_class():
    torch.manual_seed(1)
    model = Classifier(Backbone("resnet18"), 4).eval()
    image = torch.randn(1, 1, SIZE, SIZE)
    maps = [grad_cam(model, image, LAYER, torch.tensor([c])).raw[0].numpy() for c in range(4)]
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.allclose(maps[a], maps[b], atol=1e-6)


def test_no_gradient_leaks_into_the_parameters(blob_model):
    grad_cam(blob_model, torch.randn(1, 1, SIZE, SIZE), LAYER)
    assert all(p.grad is None for p in blob_model.parameters())


def test_an_unknown_layer_is_named():
    with pytest.raises(ValueError, match="layer9"):
        resolve_layer(Classifier(Backbone("resnet18"), 2), "backbone.net.layer9")


def test_concurrent_explanations_do_not_mix(blob_model):
    """A replica runs explanations in threads on one shared model (the hooks see every forward)."""
    images = [_blob(20 + 16 * (i % 4), 20) for i in range(8)]
    alone = [grad_cam(blob_model, x, LAYER, torch.tensor([0])).raw for x in images]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda x: grad_cam(blob_model, x, LAYER, torch.tensor([0])).raw, images))
    for a, b in zip(alone, together, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
