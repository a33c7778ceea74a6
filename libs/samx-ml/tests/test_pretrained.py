"""Shipped backbones: export, load by name, and the checks that keep a wrong file out."""

from __future__ import annotations

import pytest
import torch
from samx_ml import pretrained
from samx_ml.pretrained import WeightsError, export, load_into, resolve_init, shipped_backbones
from samx_ml.simclr import SimCLRModel


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    return tmp_path


def _trained_model(seed: int = 0) -> SimCLRModel:
    torch.manual_seed(seed)
    model = SimCLRModel("resnet18")
    with torch.no_grad():  # non-default BN statistics, so that a loader that skips buffers shows
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
    return model.eval()


def test_an_exported_backbone_loads_by_name_and_gives_the_same_features(weights_dir):
    model = _trained_model()
    shipped = export(model, "samx-rad-t1", {"recipe": {"objective": "test"}}, image_size=64)
    assert shipped.path.stat().st_size < 25 * 2**20  # fp16: what the repository can carry
    assert resolve_init("samx-rad-t1") == shipped == resolve_init("default")
    again = SimCLRModel("resnet18").eval()
    load_into(again, shipped)
    x = torch.rand(4, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(again.backbone(x), model.backbone(x), atol=2e-2, rtol=2e-2)  # fp16 on disk
    assert shipped.card["recipe"] == {"objective": "test"}


def test_a_changed_or_missing_file_and_an_unknown_name_are_refused(weights_dir):
    shipped = export(_trained_model(), "samx-rad-t1", {}, image_size=64)
    data = bytearray(shipped.path.read_bytes())
    data[-100] ^= 0xFF
    shipped.path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="not the file its description names"):
        load_into(SimCLRModel("resnet18"), shipped)
    shipped.path.unlink()
    with pytest.raises(WeightsError, match="missing"):
        load_into(SimCLRModel("resnet18"), shipped)
    with pytest.raises(WeightsError, match="samx-rad-t1"):  # the message lists what there is
        resolve_init("samx-rad-t9")
    export(_trained_model(), "samx-rad-t1", {}, image_size=64)
    with pytest.raises(WeightsError, match="is a resnet18"):
        load_into(SimCLRModel("resnet50"), shipped_backbones()["samx-rad-t1"])


def test_scratch_and_an_empty_package(weights_dir):
    assert resolve_init("scratch") is None
    assert resolve_init("default") is None  # nothing shipped: the default is to start from scratch
