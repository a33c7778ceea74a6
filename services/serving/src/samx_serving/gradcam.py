"""Grad-CAM: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017 (arXiv:1610.02391).

For a class c and a conv layer with activations A of shape (B, K, h, w), the weights are the
spatially averaged gradients ``alpha_k = mean_{ij} d y_c / d A_k[i, j]`` (B, K), and the map is
``ReLU(sum_k alpha_k A_k)`` (B, h, w): where the layer's features push the class score up. The map is
upsampled bilinearly to the input's (H, W) and scaled to [0, 1] per image for display; the raw,
unscaled map at (h, w) is returned too, so a caller can compare magnitudes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class CamResult:
    logits: torch.Tensor  # (B, C), detached
    cam: torch.Tensor  # (B, H, W) in [0, 1], the input's size
    raw: torch.Tensor  # (B, h, w) >= 0, the target layer's size, unscaled


def resolve_layer(model: nn.Module, dotted: str) -> nn.Module:
    """``"backbone.net.layer4"`` -> that submodule; ``ValueError`` naming the path when it is missing."""
    try:
        return model.get_submodule(dotted)
    except AttributeError:
        raise ValueError(f"the model has no layer {dotted!r}") from None


# ResNet stages, deepest first: the deepest is the most class-specific, but at stride 32 a 64 px input
# leaves it a 2 x 2 map that says nothing about where. The map should have at least MIN_CELLS per side.
RESNET_STAGES = ("backbone.net.layer4", "backbone.net.layer3", "backbone.net.layer2")
MIN_CELLS = 6


def layer_for_resolution(model: nn.Module, image_size: int, *, min_cells: int = MIN_CELLS) -> str | None:
    """The deepest ResNet stage whose map at ``image_size`` has at least ``min_cells`` per side (the
    shallowest stage when none has); None for a model without those stages."""
    present = [name for name in RESNET_STAGES if _has(model, name)]
    if not present:
        return None
    sizes: dict[str, int] = {}
    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: sizes.__setitem__(name, min(out.shape[-2:]))
        )
        for name in present
    ]
    try:
        with torch.inference_mode():
            device = next(model.parameters()).device
            model(torch.zeros(1, 1, image_size, image_size, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return next((name for name in present if sizes[name] >= min_cells), present[-1])


def _has(model: nn.Module, dotted: str) -> bool:
    try:
        model.get_submodule(dotted)
    except AttributeError:
        return False
    return True


def grad_cam(
    model: nn.Module, x: torch.Tensor, target_layer: str, class_index: torch.Tensor | None = None
) -> CamResult:
    """x: (B, 1, H, W) model input; class_index: (B,) long, default the top-1 class of each image."""
    layer = resolve_layer(model, target_layer)
    store: dict[str, torch.Tensor] = {}
    caller = threading.get_ident()

    def keep(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        # A served model explains several requests at once, each in its own thread, and every hook
        # sees every forward pass: keep only the activation of this call's own forward.
        if threading.get_ident() == caller:
            store["a"] = output

    x = x.detach().requires_grad_(True)  # a graph even when the parameters are frozen
    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(x)
            if class_index is None:
                class_index = logits.argmax(1)
            score = logits.gather(1, class_index.view(-1, 1)).sum()  # images are independent in eval mode
            activations = store["a"]
            # Only the activation's gradient: the parameters' .grad stay untouched (replicas share them).
            (grads,) = torch.autograd.grad(score, activations)
    finally:
        handle.remove()
    alpha = grads.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
    raw = F.relu((alpha * activations).sum(1)).detach()  # (B, h, w)
    up = F.interpolate(raw[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = up.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
    return CamResult(logits.detach(), (up / peak).clamp(0, 1), raw)
