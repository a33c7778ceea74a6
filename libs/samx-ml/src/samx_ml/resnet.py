"""ResNet-18 / -34 / -50 trunks (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016),
for single-channel radiographs, without a classification layer.

Why our own and not ``torchvision.models``: importing torchvision imports ``torch._dynamo`` (through
``torchvision.ops``), about 9 s of CPU per process on the 2-core CI machine, and every Serve replica,
sort worker and CLI command that loads a model paid it although SAM-X never compiles. The modules,
their names and their initialisation are torchvision's (v1.5 bottleneck: the stride on the 3 x 3), so
state dicts load both ways; ``tests/test_resnet.py`` checks that outputs match torchvision's bit for bit
on the same weights.

Shapes: (B, 1, H, W) -> conv1 (stride 2) -> maxpool (stride 2) -> layer1..4 (strides 1, 2, 2, 2)
-> (B, C, H/32, W/32) -> global average pool -> (B, C), C = 512 (ResNet-18/34) or 2048 (ResNet-50).
"""

from __future__ import annotations

import torch
from torch import nn

# blocks per stage and the block type of each depth (He et al., Table 1)
_STAGES: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions with an identity (or 1 x 1 projection) shortcut."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_ch, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        result: torch.Tensor = self.relu(out + identity)
        return result


class Bottleneck(nn.Module):
    """1 x 1 reduce, 3 x 3 (strided), 1 x 1 expand by 4, with a shortcut."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(in_ch, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        result: torch.Tensor = self.relu(out + identity)
        return result


class ResNetTrunk(nn.Module):
    """(B, in_channels, H, W) -> (B, feature_dim) pooled features; torchvision's module names."""

    def __init__(self, arch: str, in_channels: int = 1) -> None:
        super().__init__()
        if arch not in _STAGES:
            raise ValueError(f"unknown ResNet {arch!r}; choose one of {sorted(_STAGES)}")
        kind, blocks = _STAGES[arch]
        block: type[BasicBlock] | type[Bottleneck] = BasicBlock if kind == "basic" else Bottleneck
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._in_ch = 64
        self.layer1 = self._stage(block, 64, blocks[0], stride=1)
        self.layer2 = self._stage(block, 128, blocks[1], stride=2)
        self.layer3 = self._stage(block, 256, blocks[2], stride=2)
        self.layer4 = self._stage(block, 512, blocks[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.feature_dim = 512 * block.expansion
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _stage(self, block: type[BasicBlock] | type[Bottleneck], planes: int, n: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self._in_ch != planes * block.expansion:
            downsample = nn.Sequential(
                _conv1x1(self._in_ch, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion)
            )
        layers: list[nn.Module] = [block(self._in_ch, planes, stride, downsample)]
        self._in_ch = planes * block.expansion
        layers += [block(self._in_ch, planes) for _ in range(1, n)]
        return nn.Sequential(*layers)

    def forward_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, C_in, H, W) -> pooled features (B, feature_dim) and the activations of layer1..3
        ((B, 64e, H/4, W/4), (B, 128e, H/8, W/8), (B, 256e, H/16, W/16); e = the block's expansion),
        which the OOD score summarises (samx_ml.ood)."""
        h = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        stages = []
        for stage in (self.layer1, self.layer2, self.layer3):
            h = stage(h)
            stages.append(h)
        return torch.flatten(self.avgpool(self.layer4(h)), 1), stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_stages(x)[0]
