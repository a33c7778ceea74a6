"""SCAN step 4: self-labeling on confident samples, with a collapse guard.

Van Gansbeke et al., ECCV 2020, arXiv:2005.12320, section 2.3: predictions with a softmax probability
above a threshold (0.99) on a weakly augmented view become pseudo-labels for a strongly augmented view,
with cross entropy weighted against the class frequencies among the confident samples.
With many clusters and unbalanced data, self-labeling can empty clusters (big clusters absorb small
ones); :func:`count_nonempty` lets the training loop stop and roll back when that happens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def confident_targets(weak_logits: torch.Tensor, threshold: float = 0.99) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K) logits -> (mask (B,) bool of confident rows, targets (B,) argmax)."""
    probs = F.softmax(weak_logits.float(), dim=1)
    conf, target = probs.max(1)
    return conf > threshold, target


def self_label_loss(
    weak_logits: torch.Tensor, strong_logits: torch.Tensor, threshold: float = 0.99
) -> tuple[torch.Tensor, int]:
    """Class-balanced cross entropy of strong-view logits against confident weak-view predictions.

    - weak_logits, strong_logits: (B, K)
    - returns (loss scalar, number of confident rows); the loss is 0 (with grad) when none is confident
    """
    mask, target = confident_targets(weak_logits.detach(), threshold)
    n = int(mask.sum())
    if n == 0:
        return strong_logits.sum() * 0.0, 0
    t = target[mask]
    k = strong_logits.shape[1]
    counts = torch.bincount(t, minlength=k).float()
    weight = torch.where(counts > 0, n / (counts * (counts > 0).sum()), torch.zeros_like(counts))
    return F.cross_entropy(strong_logits[mask].float(), t, weight=weight), n


def count_nonempty(assignments: torch.Tensor, n_clusters: int) -> int:
    """Number of clusters with at least one member; assignments: (N,) int."""
    return int((torch.bincount(assignments.flatten(), minlength=n_clusters) > 0).sum())
