"""SGD with momentum and Adam/AdamW: the two update rules SAM-X trains with, without ``torch.optim``.

Why not ``torch.optim``: its ``Optimizer`` base class wraps ``add_param_group`` and ``step`` in
``torch._disable_dynamo``, so constructing any optimizer imports ``torch._dynamo`` (~9 s of CPU on the
2-core dev machine, measured). That is paid by every process that trains: each Ray Train worker of phase 1
and phase 2, each restart after a lost worker, the SCAN driver, the benchmarks. SAM-X compiles nothing.

The updates are torch's single-tensor implementations, step for step (``tests/test_optim.py`` compares
them bit for bit with ``torch.optim`` on CPU), and ``state_dict`` has torch's layout (``state`` by
parameter index, ``param_groups`` with ``params`` as indices), so a checkpoint written with
``torch.optim`` resumes here.
- SGD: Sutskever et al., "On the importance of initialization and momentum in deep learning", ICML 2013
  (torch's form: ``buf = m * buf + g``; ``p -= lr * buf``; L2 weight decay added to the gradient).
- Adam: Kingma & Ba, ICLR 2015; AdamW (decoupled weight decay): Loshchilov & Hutter, ICLR 2019.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """The part of ``torch.optim.Optimizer`` SAM-X uses: ``param_groups`` (a schedule sets ``group["lr"]``),
    ``zero_grad``, ``step``, ``state_dict`` / ``load_state_dict``."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        items = list(params)
        if not items:
            raise ValueError("the optimizer got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        for group in groups:
            assert isinstance(group, dict)
            params_of_group = list(group["params"])
            self.param_groups.append({**self.defaults, **group, "params": params_of_group})

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self.state.setdefault(p, {}), group)

    def _all_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        index = {p: i for i, p in enumerate(self._all_params())}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[p] for p in g["params"]]}
                  for g in self.param_groups]  # fmt: skip
        return {"state": {index[p]: dict(s) for p, s in self.state.items() if s}, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups) or any(
            len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups, strict=True)
        ):
            raise ValueError("the optimizer state belongs to another model (parameter groups differ)")
        params = self._all_params()
        self.state = {}
        for i, saved in state_dict["state"].items():
            p = params[int(i)]
            # moments follow the parameter's device and dtype; the step count stays a CPU float
            self.state[p] = {
                k: (v.detach().to(device=p.device, dtype=p.dtype, copy=True) if k != "step" else v.detach().clone())
                if isinstance(v, Tensor)
                else v
                for k, v in saved.items()
            }
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            group.update({k: saved[k] for k in self.defaults if k in saved})


class SGD(Optimizer):
    """SGD with momentum (no dampening, no Nesterov) and L2 weight decay, as ``torch.optim.SGD``."""

    def __init__(self, params: Params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("lr, momentum and weight_decay must be >= 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        if group["momentum"] != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.detach().clone()
            else:
                buf.mul_(group["momentum"]).add_(grad)
            grad = buf
        p.add_(grad, alpha=-group["lr"])


class Adam(Optimizer):
    """Adam (``decoupled_weight_decay=False``: L2 added to the gradient, as ``torch.optim.Adam``) or AdamW
    (decay applied to the weights, as ``torch.optim.AdamW``); no AMSGrad."""

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
    ) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError("lr, eps and weight_decay must be >= 0 and betas in [0, 1)")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults | {"decoupled_weight_decay": decoupled_weight_decay})

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        if not state:
            state["step"] = torch.tensor(0.0, dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = grad.add(p, alpha=wd)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = state["step"].item()
        step_size = lr / (1 - beta1**step)
        denom = (exp_avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(group["eps"])
        p.addcdiv_(exp_avg, denom, value=-step_size)


def AdamW(params: Params, lr: float = 1e-3, weight_decay: float = 1e-2, **kwargs: Any) -> Adam:  # noqa: N802
    """``torch.optim.AdamW``'s defaults: Adam with decoupled weight decay 0.01."""
    return Adam(params, lr=lr, weight_decay=weight_decay, decoupled_weight_decay=True, **kwargs)
