"""SCAN clustering heads and loss (SCAN step 3).

Van Gansbeke et al., "SCAN: Learning to Classify Images without Labels", ECCV 2020, arXiv:2005.12320,
eq. 2: ``L = -1/|D| sum_X sum_{k in N_X} log <Phi(X), Phi(k)> + lambda * sum_c Phi'^c log Phi'^c``
with ``Phi'^c`` the mean soft assignment to cluster c over the batch. Several heads are trained at once
and the one with the lowest loss is kept (the paper's section 3.1 / its code's ``num_heads``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Standardize(nn.Module):
    """Per-dimension z-score with statistics fixed from the data: (B, D) -> (B, D).

    Frozen backbone features are L2-normalized (norm 1): fed raw, a freshly initialized linear head
    gives almost uniform predictions, a flat start for the SCAN loss. Standardized, the logits start at
    a useful scale.
    """

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> Standardize:
        self.mean.copy_(x.float().mean(0))
        self.std.copy_(x.float().std(0).clamp_min(1e-6))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ClusterHeads(nn.Module):
    """H independent linear heads on the same (standardized) features.

    - input: features (B, in_dim)
    - output: logits (H, B, K)
    """

    def __init__(self, in_dim: int, n_clusters: int, n_heads: int = 5) -> None:
        super().__init__()
        self.norm = Standardize(in_dim)
        self.heads = nn.ModuleList(nn.Linear(in_dim, n_clusters) for _ in range(n_heads))

    @property
    def n_heads(self) -> int:
        return len(self.heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return torch.stack([h(x) for h in self.heads])

    def single(self, h: int) -> nn.Sequential:
        """Head h alone, with the standardization: (B, in_dim) -> (B, K)."""
        return nn.Sequential(self.norm, self.heads[h])


def scan_loss(
    anchor_logits: torch.Tensor, neighbor_logits: torch.Tensor, entropy_weight: float = 5.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SCAN loss for one head.

    - anchor_logits, neighbor_logits: (B, K), row i of each is an (anchor, mined neighbour) pair
    - returns (total, consistency, entropy), scalars: consistency = mean_i -log <p_i, q_i>;
      entropy = H(mean_i p_i) (natural log); total = consistency - entropy_weight * entropy.
    """
    p = F.softmax(anchor_logits.float(), dim=1)
    q = F.softmax(neighbor_logits.float(), dim=1)
    consistency = -torch.log((p * q).sum(1).clamp_min(1e-8)).mean()
    mean_p = p.mean(0).clamp_min(1e-8)
    entropy = -(mean_p * mean_p.log()).sum()
    return consistency - entropy_weight * entropy, consistency, entropy
