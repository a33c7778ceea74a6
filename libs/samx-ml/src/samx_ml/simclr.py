"""SimCLR pretext: projection head and NT-Xent loss.

Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
Representations", ICML 2020, arXiv:2002.05709 (section 2.1, eq. 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from samx_ml.backbone import build_backbone


class ProjectionHead(nn.Module):
    """MLP g(.) of SimCLR: Linear -> BN -> ReLU -> Linear.

    - input: backbone features (B, in_dim), e.g. 512 for ResNet-18, 2048 for ResNet-50
    - output: projections (B, out_dim), not normalized (the loss normalizes)
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Normalized temperature-scaled cross entropy over 2B views.

    - z1, z2: (B, D) projections of two augmented views of the same B images; row i of z1 and row i of
      z2 are the positive pair, the other 2B - 2 views in the batch are negatives.
    - returns: scalar, the mean over all 2B anchors of
      ``-log exp(sim(i, pos)/t) / sum_{k != i} exp(sim(i, k)/t)`` with cosine similarity.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two (B, D) tensors of the same shape, got {tuple(z1.shape)}, {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # (2B, D)
    logits = z @ z.t() / temperature  # (2B, 2B)
    logits.fill_diagonal_(float("-inf"))  # a view is never its own negative
    targets = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(logits, targets)


class SimCLRModel(nn.Module):
    """Backbone f(.) then projection head g(.): views (B, 1, S, S) -> projections (B, proj_dim).

    After pretraining only ``backbone`` is kept (SimCLR section 4.2: g's input is the better feature)."""

    def __init__(self, arch: str = "resnet18", proj_hidden: int = 512, proj_dim: int = 128) -> None:
        super().__init__()
        self.backbone = build_backbone(arch)
        self.head = ProjectionHead(self.backbone.feature_dim, proj_hidden, proj_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.backbone(x))
        return out
