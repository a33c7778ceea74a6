"""The K rule and neighbour mining against hand-computed values."""

import math

import numpy as np
import pytest
import torch
from samx_ml.k_rule import choose_k
from samx_ml.neighbors import mine_neighbors, neighbor_accuracy


def test_k_rule_values():
    assert choose_k(42_608) == 1000  # the paper's scale: the cap, the paper's value
    assert choose_k(1_479) == 59  # round(1479 / 25); <= 1479 // 20 = 73
    assert choose_k(300) == 12
    assert choose_k(200) == 10  # k_min
    assert choose_k(64) == 3  # capped by the decision budget N // 20
    for n in range(40, 5000, 37):
        assert 2 <= choose_k(n) <= n // 20


def test_k_rule_override_and_errors():
    assert choose_k(100, override=50) == 50
    with pytest.raises(ValueError, match="between 2"):
        choose_k(10, override=11)
    with pytest.raises(ValueError, match="too few"):
        choose_k(39)
    with pytest.raises(ValueError, match="empty"):
        choose_k(0)


def _unit(deg):
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


EMB = torch.tensor([_unit(0), _unit(10), _unit(90), _unit(100)]) * torch.tensor([[1.0], [3.0], [0.5], [2.0]])


def test_mine_neighbors_by_hand():
    assert mine_neighbors(EMB, k=1).tolist() == [[1], [0], [3], [2]]  # cosine: lengths do not matter
    # k=2: 0 -> 1 (10 deg) then 2 (90 deg); 1 -> 0 then 2 (80 deg); 2 -> 3 then 1; 3 -> 2 then 1 (90 deg)
    assert mine_neighbors(EMB, k=2).tolist() == [[1, 2], [0, 2], [3, 1], [2, 1]]


def test_mine_neighbors_chunked_equals_unchunked():
    x = torch.randn(103, 16)
    assert torch.equal(mine_neighbors(x, 5, chunk=7), mine_neighbors(x, 5, chunk=4096))
    assert not (mine_neighbors(x, 5) == torch.arange(103)[:, None]).any()  # never itself
    with pytest.raises(ValueError, match="between 1 and N-1"):
        mine_neighbors(x[:3], k=3)  # k must be < N


def test_neighbor_accuracy():
    mh = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=bool)
    assert neighbor_accuracy(mine_neighbors(EMB, 1), mh) == 1.0
    assert neighbor_accuracy(mine_neighbors(EMB, 2), mh) == 0.5
    mh_unlabeled = mh.copy()
    mh_unlabeled[1] = False  # anchor 1 skipped; pairs to 1 skipped
    assert neighbor_accuracy(mine_neighbors(EMB, 1), mh_unlabeled) == 1.0
