"""Backbones: ResNet-18 / -34 / -50 (He et al., CVPR 2016) for single-channel radiographs.

Trained from scratch by the SimCLR pretext or loaded from SAM-X's shipped backbone (nothing is
downloaded). The trunk is ``samx_ml.resnet`` (torchvision's layout and module names, without importing
torchvision): the first convolution takes 1 channel and there is no classification layer, so the
network maps (B, 1, H, W) float images to (B, 512) for ResNet-18/34 and (B, 2048) for ResNet-50 pooled
features. State-dict keys are ``net.<torchvision name>`` (``net.layer4.1.conv2.weight``).
"""

from __future__ import annotations

import torch
from torch import nn

from samx_ml.resnet import ResNetTrunk

FEATURE_DIMS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048}


class Backbone(nn.Module):
    """(B, 1, H, W) -> (B, feature_dim)."""

    def __init__(self, arch: str = "resnet18") -> None:
        super().__init__()
        if arch not in FEATURE_DIMS:
            raise ValueError(f"unknown backbone {arch!r}; choose one of {sorted(FEATURE_DIMS)}")
        self.net = ResNetTrunk(arch, in_channels=1)
        self.arch = arch
        self.feature_dim = FEATURE_DIMS[arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def build_backbone(arch: str = "resnet18") -> Backbone:
    return Backbone(arch)
