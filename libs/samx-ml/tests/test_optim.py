"""samx_ml.optim against torch.optim: the same parameters after the same steps (bit for bit on CPU), the
torch.optim's checkpoints resume, and a training step that does not import torch._dynamo."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
from samx_ml import optim
from torch import nn


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def _groups(model: nn.Module) -> list[dict]:
    """Two groups as the classifier builds them (head and trunk), with their own lr and decay."""
    head, trunk = list(model[4].parameters()), [p for m in list(model)[:2] for p in m.parameters()]
    return [{"params": trunk, "lr": 0.01}, {"params": head, "lr": 0.05, "weight_decay": 0.0}]


CASES: dict[str, tuple[Callable, Callable]] = {
    "sgd": (
        lambda g: optim.SGD(g, lr=0.1, momentum=0.9, weight_decay=5e-4),
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, weight_decay=5e-4, foreach=False),
    ),
    "adam-l2": (
        lambda g: optim.Adam(g, lr=1e-3, weight_decay=1e-4),
        lambda g: torch.optim.Adam(g, lr=1e-3, weight_decay=1e-4, foreach=False),
    ),
    "adamw": (
        lambda g: optim.AdamW(g, lr=1e-3, weight_decay=0.05),
        lambda g: torch.optim.AdamW(g, lr=1e-3, weight_decay=0.05, foreach=False),
    ),
}


def _train(model: nn.Module, opt, steps: int, first: int = 0) -> None:
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(4, 1, 8, 8, generator=gen), torch.randint(0, 3, (4,), generator=gen)) for _ in range(9)]
    for step in range(first, first + steps):
        for group in opt.param_groups:  # a schedule sets the rate the way the training loops do
            group["lr"] = group["lr"] * 0.9
        x, y = batches[step]
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("case", CASES)
def test_updates_equal_torch_optim_bit_for_bit(case):
    ours_of, torch_of = CASES[case]
    a, b = _model(), _model()
    _train(a, ours_of(_groups(a)), steps=6)
    _train(b, torch_of(_groups(b)), steps=6)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES)
def test_a_state_saved_by_either_resumes_identically(case):
    """Checkpoints written with torch.optim (before SAM-X had its own) resume in samx_ml.optim."""
    ours_of, torch_of = CASES[case]
    reference = _model()
    reference_opt = torch_of(_groups(reference))
    _train(reference, reference_opt, steps=6)

    for first in (ours_of, torch_of):
        model = _model()
        opt = first(_groups(model))
        _train(model, opt, steps=3)
        resumed = _model()
        resumed.load_state_dict(model.state_dict())
        resumed_opt = ours_of(_groups(resumed))
        resumed_opt.load_state_dict(opt.state_dict())
        assert [g["lr"] for g in resumed_opt.param_groups] == [g["lr"] for g in opt.param_groups]
        _train(resumed, resumed_opt, steps=3, first=3)
        for p, q in zip(resumed.parameters(), reference.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_a_state_of_another_model_and_bad_settings_are_refused():
    opt = optim.SGD(_model().parameters(), lr=0.1, momentum=0.9)
    other = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another model"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(_model().parameters(), betas=(0.9, 1.0))


def test_a_training_step_imports_no_dynamo():
    code = """
import sys, torch
from samx_ml.backbone import Backbone
from samx_ml.optim import SGD, AdamW
m = Backbone("resnet18")
for opt in (SGD(m.parameters(), lr=0.1, momentum=0.9), AdamW(m.parameters())):
    m(torch.zeros(2, 1, 32, 32)).sum().backward()
    opt.step()
    opt.zero_grad()
print("torch._dynamo" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
