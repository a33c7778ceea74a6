"""Backbones: torchvision ResNet-18 / ResNet-50 (He et al., CVPR 2016) for single-channel radiographs.

Built with ``weights=None`` (nothing is downloaded; trained from scratch by the SimCLR pretext). The
first convolution takes 1 channel; the fc layer is replaced by the identity, so the network maps
(B, 1, H, W) float images to (B, 512) for ResNet-18 and (B, 2048) for ResNet-50 pooled features.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

FEATURE_DIMS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048}


class Backbone(nn.Module):
    """(B, 1, H, W) -> (B, feature_dim)."""

    def __init__(self, arch: str = "resnet18") -> None:
        super().__init__()
        if arch not in FEATURE_DIMS:
            raise ValueError(f"unknown backbone {arch!r}; choose one of {sorted(FEATURE_DIMS)}")
        net = getattr(torchvision.models, arch)(weights=None)
        net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.fc = nn.Identity()
        self.net = net
        self.arch = arch
        self.feature_dim = FEATURE_DIMS[arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def build_backbone(arch: str = "resnet18") -> Backbone:
    return Backbone(arch)
