"""Robustness corruptions: what radiographs from other hospitals look like.

Exposure and post-processing (gamma, contrast), detector resolution (blur, noise, downscale to 64 px and
back), positioning and collimation (crop, black padding/border), burnt-in annotations (text-like
rectangles). Each maps float [0, 1] images (B, 1, H, W) to the same shape and is deterministic for a
given seed, so every model is scored on the same corrupted copies.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from samx_ml.augment import gaussian_blur


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)


def gamma(x: torch.Tensor, g: float = 2.0) -> torch.Tensor:
    return x.clamp(0, 1).pow(g)


def contrast(x: torch.Tensor, factor: float = 0.5) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * factor + mean).clamp(0, 1)


def blur(x: torch.Tensor, sigma_224: float = 2.5) -> torch.Tensor:
    sigma = torch.full((x.shape[0],), sigma_224 * x.shape[-1] / 224, device=x.device)
    return gaussian_blur(x, sigma)


def noise(x: torch.Tensor, std: float = 0.08, seed: int = 0) -> torch.Tensor:
    g = torch.Generator(device=x.device).manual_seed(seed)
    return (x + std * torch.randn(x.shape, device=x.device, generator=g)).clamp(0, 1)


def crop(x: torch.Tensor, keep: float = 0.7) -> torch.Tensor:
    """Central crop keeping ``keep`` of each side, resized back."""
    h, w = x.shape[-2:]
    dh, dw = int(h * (1 - keep) / 2), int(w * (1 - keep) / 2)
    return _resize(x[..., dh : h - dh, dw : w - dw], h, w)


def padding(x: torch.Tensor, border: float = 0.15, value: float = 0.0) -> torch.Tensor:
    """Shrink the image and surround it by a uniform border (collimation / letterboxing)."""
    h, w = x.shape[-2:]
    ih, iw = int(h * (1 - 2 * border)), int(w * (1 - 2 * border))
    small = _resize(x, ih, iw)
    top, left = (h - ih) // 2, (w - iw) // 2
    return F.pad(small, (left, w - iw - left, top, h - ih - top), value=value)


def downscale(x: torch.Tensor, size: int = 64) -> torch.Tensor:
    h, w = x.shape[-2:]
    return _resize(_resize(x, size, size), h, w)


def burnt_in_text(x: torch.Tensor, seed: int = 0, n_boxes: int = 4) -> torch.Tensor:
    """White text-like blocks (striped rectangles) near the corners, like burnt-in annotations."""
    g = torch.Generator().manual_seed(seed)
    b, _, h, w = x.shape
    out = x.clone()
    for i in range(b):
        for _ in range(n_boxes):
            bh = int(h * (0.03 + 0.03 * torch.rand(1, generator=g).item()))
            bw = int(w * (0.10 + 0.20 * torch.rand(1, generator=g).item()))
            u = torch.rand(4, generator=g).tolist()
            top = int(h * (0.02 + 0.06 * u[0])) if u[1] < 0.5 else h - bh - int(h * (0.02 + 0.06 * u[0]))
            left = int(w * (0.02 + 0.06 * u[2])) if u[3] < 0.5 else w - bw - int(w * (0.02 + 0.06 * u[2]))
            cols = torch.arange(bw, device=x.device)
            stripes = ((cols // max(1, bh // 3)) % 3 != 0).float()  # gaps between "characters"
            out[i, 0, top : top + bh, left : left + bw] = torch.maximum(
                out[i, 0, top : top + bh, left : left + bw], stripes[None, :]
            )
    return out


CORRUPTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gamma_0.5": lambda x: gamma(x, 0.5),
    "gamma_2.0": lambda x: gamma(x, 2.0),
    "contrast_0.5": contrast,
    "blur": blur,
    "noise": noise,
    "crop_0.7": crop,
    "padding": padding,
    "downscale_64": downscale,
    "burnt_in_text": burnt_in_text,
}
