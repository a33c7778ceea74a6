"""Our ResNet trunk is torchvision's network without torchvision: same state-dict keys and shapes, the
same outputs on the same weights, and loading a model does not import torch._dynamo."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from samx_ml.backbone import Backbone

torchvision = pytest.importorskip("torchvision")  # the reference implementation, a dev dependency only


def _torchvision_trunk(arch: str) -> torch.nn.Module:
    net = getattr(torchvision.models, arch)(weights=None)
    net.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    net.fc = torch.nn.Identity()
    return net


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50"])
def test_state_dicts_load_both_ways_and_outputs_match_torchvision(arch):
    torch.manual_seed(0)
    ours = Backbone(arch)
    reference = _torchvision_trunk(arch)
    ours_sd, ref_sd = ours.net.state_dict(), reference.state_dict()
    assert list(ours_sd) == list(ref_sd)
    assert all(ours_sd[k].shape == ref_sd[k].shape for k in ours_sd)
    reference.load_state_dict(ours_sd)  # strict: every key, both ways
    ours.net.load_state_dict(reference.state_dict())
    x = torch.randn(2, 1, 64, 96)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(reference, mode)()
        with torch.no_grad():
            out = ours(x)
            assert out.shape == (2, ours.feature_dim)
            torch.testing.assert_close(out, reference(x), rtol=0, atol=0)


def test_initialisation_follows_torchvision():
    torch.manual_seed(0)
    net = Backbone("resnet50").net
    bn = net.layer2[0].bn3
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    conv = net.layer3[1].conv2.weight  # kaiming normal, fan_out: std = sqrt(2 / (256 * 3 * 3))
    assert abs(conv.std().item() - (2 / (256 * 9)) ** 0.5) < 0.002


def test_building_and_running_a_backbone_imports_neither_torchvision_nor_dynamo():
    code = (
        "import sys, torch; from samx_ml.backbone import Backbone; "
        "m = Backbone('resnet18').eval(); m(torch.zeros(1, 1, 32, 32)).sum(); "
        "print(sorted(n for n in ('torchvision', 'torch._dynamo') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
