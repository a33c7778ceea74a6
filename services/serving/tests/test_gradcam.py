"""Grad-CAM sanity (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018, in spirit): the map
depends on the class asked for, and it moves with the object in the image."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image
from samx_ml.backbone import Backbone
from samx_ml.classifier import Classifier
from samx_serving.gradcam import grad_cam, layer_for_resolution, resolve_layer
from samx_serving.overlay import normalised, overlay_on_radiograph
from torch import nn

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


def test_the_layer_is_chosen_for_a_legible_map_at_the_input_size():
    """At stride 32 a 64 px input leaves layer4 a 2 x 2 map: the deepest stage with >= 6 cells is used."""
    model = Classifier(Backbone("resnet18"), 2).eval()
    assert layer_for_resolution(model, 64) == "backbone.net.layer2"  # 8 x 8 (layer3: 4 x 4)
    assert layer_for_resolution(model, 96) == "backbone.net.layer3"  # 6 x 6
    assert layer_for_resolution(model, 224) == "backbone.net.layer4"  # 7 x 7
    assert layer_for_resolution(nn.Sequential(nn.Conv2d(1, 1, 3)), 64) is None


def test_at_the_finer_layer_the_map_follows_a_shifted_object_and_changes_with_the_class(blob_model):
    layer = "backbone.net.layer3"  # stride 16: 32 px = 2 cells

    def peak(image: torch.Tensor) -> tuple[int, int]:
        raw = grad_cam(blob_model, image, layer, torch.tensor([0])).raw[0]
        return divmod(int(raw.argmax()), raw.shape[1])

    row, col = peak(_blob(20, 20))
    assert peak(_blob(20 + 32, 20)) == (row, col + 2) and peak(_blob(20, 20 + 32)) == (row + 2, col)
    image = _blob(40, 40)
    maps = [grad_cam(blob_model, image, layer, torch.tensor([c])).raw[0] for c in range(3)]
    assert maps[0].shape == (8, 8) and not torch.allclose(maps[0], maps[1]) and not torch.allclose(maps[1], maps[2])


def test_the_overlay_keeps_the_radiographs_aspect_ratio_and_has_a_colour_bar():
    tall = (np.arange(700 * 300) % 251).astype(np.uint8).reshape(700, 300)  # H 700, W 300
    cam = np.zeros((32, 32), dtype=np.float32)
    cam[:16, :] = 1.0  # evidence in the upper half of the square
    png = overlay_on_radiograph(tall, cam, (0, 700, 0, 300), long_side=768)
    out = np.asarray(Image.open(io.BytesIO(png)))
    assert out.shape[0] == 700, "never enlarged past its own size"
    image_w = round(300 * out.shape[0] / 700)
    assert out.shape[1] > image_w, "a colour bar to the right"
    body = out[:, :image_w].astype(int)
    redness = body[..., 0] - body[..., 2]
    assert redness[:300].mean() > redness[400:].mean() + 20, "the map lands where the square put it"
    big = overlay_on_radiograph(np.zeros((2000, 1000), np.uint16) + 1000, cam, (100, 1900, 0, 1000), long_side=768)
    assert np.asarray(Image.open(io.BytesIO(big))).shape[0] == 768
    small = overlay_on_radiograph(np.full((200, 100), 90, np.uint8), cam, (0, 200, 0, 100), long_side=512)
    assert np.asarray(Image.open(io.BytesIO(small))).shape[0] == 200


def test_the_map_returned_is_normalised_with_its_peak_kept():
    shown, peak = normalised(np.array([[0.0, 2.0], [4.0, 1.0]], dtype=np.float32))
    assert peak == 4.0 and shown.max() == 1.0 and shown.min() == 0.0
    zeros, none = normalised(np.zeros((2, 2), dtype=np.float32))
    assert none == 0.0 and not zeros.any()
