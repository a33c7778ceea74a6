"""NT-Xent, SCAN and self-label losses against hand-computed values."""

import math

import pytest
import torch
from samx_ml.scan import ClusterHeads, scan_loss
from samx_ml.self_label import confident_targets, count_nonempty, self_label_loss
from samx_ml.simclr import ProjectionHead, nt_xent_loss


def test_nt_xent_single_pair_is_zero():
    # B = 1: the positive is the only other view, so the softmax is 1 and the loss 0.
    z = torch.tensor([[1.0, 2.0]])
    assert nt_xent_loss(z, -z, temperature=0.5).item() == pytest.approx(0.0, abs=1e-6)


def test_nt_xent_orthogonal_pairs():
    # views e1, e2 | e1, e2: positive sim 1, two negatives with sim 0 -> log(1 + 2 exp(-1/t)) per anchor
    z = torch.eye(2)
    for t in (1.0, 0.5):
        assert nt_xent_loss(z, z.clone(), t).item() == pytest.approx(math.log(1 + 2 * math.exp(-1 / t)), rel=1e-5)


def test_nt_xent_is_scale_invariant_and_checks_shapes():
    z1, z2 = torch.randn(4, 8), torch.randn(4, 8)
    assert nt_xent_loss(z1, z2).item() == pytest.approx(nt_xent_loss(3 * z1, 0.5 * z2).item(), rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_loss(z1, z2[:3])


def test_projection_head_shape():
    assert ProjectionHead(512, 256, 64)(torch.randn(5, 512)).shape == (5, 64)


def test_scan_loss_uniform_predictions():
    # p = q = (1/2, 1/2): consistency -log(1/2) = log 2; entropy of the mean = log 2
    logits = torch.zeros(3, 2)
    total, cons, ent = scan_loss(logits, logits, entropy_weight=5.0)
    assert cons.item() == pytest.approx(math.log(2), rel=1e-6)
    assert ent.item() == pytest.approx(math.log(2), rel=1e-6)
    assert total.item() == pytest.approx(math.log(2) - 5 * math.log(2), rel=1e-6)


def test_scan_loss_confident_consistent_and_balanced():
    # one-hot agreeing pairs spread over both clusters: consistency 0, entropy log 2
    logits = torch.tensor([[50.0, 0.0], [0.0, 50.0]])
    total, cons, ent = scan_loss(logits, logits, entropy_weight=2.0)
    assert cons.item() == pytest.approx(0.0, abs=1e-6)
    assert total.item() == pytest.approx(-2 * math.log(2), rel=1e-5)


def test_scan_loss_disagreeing_neighbours_cost_more():
    a = torch.tensor([[50.0, 0.0], [0.0, 50.0]])
    assert scan_loss(a, a.flip(1))[1].item() > 10


def test_cluster_heads_shape():
    assert ClusterHeads(16, 7, n_heads=3)(torch.randn(4, 16)).shape == (3, 4, 7)


def test_self_label_confident_rows_and_empty_case():
    weak = torch.tensor([[10.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.0, 10.0]])
    mask, target = confident_targets(weak, threshold=0.99)
    assert mask.tolist() == [True, False, True]
    assert target[mask].tolist() == [0, 2]
    strong = torch.zeros(3, 3, requires_grad=True)
    loss, n = self_label_loss(weak, strong, 0.99)
    assert n == 2
    assert loss.item() == pytest.approx(math.log(3), rel=1e-5)  # uniform strong predictions
    loss, n = self_label_loss(torch.zeros(3, 3), strong, 0.99)
    assert n == 0 and loss.item() == 0.0
    loss.backward()  # still differentiable


def test_count_nonempty():
    assert count_nonempty(torch.tensor([0, 0, 3]), 5) == 2
