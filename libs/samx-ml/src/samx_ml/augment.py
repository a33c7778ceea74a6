"""Radiograph augmentations as batched torch ops (GPU-friendly, no per-image Python loop).

Inputs are single-channel images (B, 1, H, W), uint8 (0..255) or float in [0, 1]; outputs are float
(B, 1, S, S). No colour jitter (radiographs have none). The random views follow SimCLR's recipe
(Chen et al., arXiv:2002.05709: random resized crop + photometric jitter + blur), adapted to radiographs:
small rotations (positioning), flips (left/right sides, odd orientations), brightness/contrast/gamma
(exposure and post-processing differ by hospital), Gaussian blur and noise (detector resolution), and an
optional zoom-out: the anatomy shrunk inside a black frame, as letterboxed or tightly collimated
radiographs from other sites arrive. A classifier that only ever saw zoom-ins fails on them
(``bench/robustness.py``: top-1 0.70 clean, 0.12 framed; 0.60 framed with zoom-out). Black frames
only: grey and noisy ones in training measured worse on both framed and noisy test copies.

Every output is standardized per image (zero mean, unit variance), which removes global brightness
and contrast differences between hospitals before the network sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    scale: tuple[float, float] = (0.3, 1.0)  # crop area fraction
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    rotation_deg: float = 10.0
    p_hflip: float = 0.5
    p_vflip: float = 0.2
    p_intensity: float = 0.8
    brightness: float = 0.2
    contrast: tuple[float, float] = (0.6, 1.4)
    gamma: tuple[float, float] = (0.6, 1.6)
    p_blur: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # in pixels at 224 px, scaled with the output size
    p_noise: float = 0.3
    noise_std: float = 0.05
    p_zoom_out: float = 0.0  # probability that a view shows the whole image inside a black frame
    zoom_out: tuple[float, float] = (1.0, 2.2)  # viewed area / image area when zooming out


WEAK = AugmentConfig(scale=(0.7, 1.0), rotation_deg=5.0, p_intensity=0.5, p_blur=0.0, p_noise=0.0, p_vflip=0.0)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 1, H, W) -> float [0, 1]; float input is returned as float32."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def standardize(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Per-image zero mean / unit variance: (B, 1, H, W) -> same shape."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / (std + eps)


def eval_transform(x: torch.Tensor, size: int) -> torch.Tensor:
    """Deterministic: resize to (size, size) (antialiased) and standardize. (B,1,H,W) -> (B,1,size,size)."""
    x = to_float(x)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return standardize(x)


def _rand(b: int, lo: float, hi: float, device: torch.device, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(b, device=device, generator=g) * (hi - lo) + lo


def random_affine_crop(
    x: torch.Tensor, size: int, cfg: AugmentConfig, g: torch.Generator | None = None
) -> torch.Tensor:
    """Random resized crop + rotation + flips as one affine ``grid_sample``: (B,1,H,W) -> (B,1,size,size)."""
    b, dev = x.shape[0], x.device
    area = _rand(b, *cfg.scale, dev, g)
    log_r = _rand(b, math.log(cfg.ratio[0]), math.log(cfg.ratio[1]), dev, g)
    ratio = log_r.exp()
    w = (area * ratio).sqrt().clamp(max=1.0)  # half-extent in normalized coords = w
    h = (area / ratio).sqrt().clamp(max=1.0)
    if cfg.p_zoom_out > 0:  # view beyond the image: grid_sample fills the outside with zeros (black)
        out = torch.rand(b, device=dev, generator=g) < cfg.p_zoom_out
        zoom = _rand(b, *cfg.zoom_out, dev, g).sqrt()
        w, h = torch.where(out, zoom, w), torch.where(out, zoom, h)
    cx = (torch.rand(b, device=dev, generator=g) * 2 - 1) * (1 - w)  # zoomed out: the image stays in view
    cy = (torch.rand(b, device=dev, generator=g) * 2 - 1) * (1 - h)
    ang = _rand(b, -cfg.rotation_deg, cfg.rotation_deg, dev, g) * math.pi / 180
    fx = torch.where(torch.rand(b, device=dev, generator=g) < cfg.p_hflip, -1.0, 1.0)
    fy = torch.where(torch.rand(b, device=dev, generator=g) < cfg.p_vflip, -1.0, 1.0)
    cos, sin = ang.cos(), ang.sin()
    theta = torch.stack(
        [torch.stack([cos * w * fx, -sin * h * fy, cx], 1), torch.stack([sin * w * fx, cos * h * fy, cy], 1)], 1
    )  # (B, 2, 3): output grid [-1, 1]^2 -> input coordinates
    grid = F.affine_grid(theta, [b, 1, size, size], align_corners=False)
    if x.shape[-1] > 2 * size:  # avoid aliasing when shrinking a lot
        x = F.interpolate(x, scale_factor=2 * size / x.shape[-1], mode="bilinear", antialias=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur, separable, as one grouped conv. x: (B,1,H,W), sigma: (B,) pixels."""
    b = x.shape[0]
    radius = max(1, int(math.ceil(3 * float(sigma.max()))))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None].to(x.dtype) ** 2 + 1e-6))
    k = k / k.sum(1, keepdim=True)  # (B, 2r+1)
    y = x.reshape(1, b, *x.shape[-2:])
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k[:, None, None, :], groups=b)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k[:, None, :, None], groups=b)
    return y.reshape_as(x)


def photometric(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator | None = None) -> torch.Tensor:
    """Brightness / contrast / gamma, blur, noise on float [0,1] images (B,1,H,W); output clamped to [0,1]."""
    b, dev = x.shape[0], x.device
    on = (torch.rand(b, device=dev, generator=g) < cfg.p_intensity).float().view(b, 1, 1, 1)
    c = 1 + on * (_rand(b, *cfg.contrast, dev, g).view(b, 1, 1, 1) - 1)
    br = on * _rand(b, -cfg.brightness, cfg.brightness, dev, g).view(b, 1, 1, 1)
    gam = (on * _rand(b, math.log(cfg.gamma[0]), math.log(cfg.gamma[1]), dev, g).view(b, 1, 1, 1)).exp()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * c + mean + br).clamp(0, 1).pow(gam)
    if cfg.p_blur > 0:
        sel = torch.rand(b, device=dev, generator=g) < cfg.p_blur
        if sel.any():
            sigma = _rand(b, *cfg.blur_sigma, dev, g) * x.shape[-1] / 224
            x = torch.where(sel.view(b, 1, 1, 1), gaussian_blur(x, sigma), x)
    if cfg.p_noise > 0:
        sel = (torch.rand(b, device=dev, generator=g) < cfg.p_noise).float().view(b, 1, 1, 1)
        std = _rand(b, 0.0, cfg.noise_std, dev, g).view(b, 1, 1, 1)
        x = x + sel * std * torch.randn(x.shape, device=dev, generator=g)
    return x.clamp(0, 1)


def random_view(
    x: torch.Tensor, size: int, cfg: AugmentConfig = AugmentConfig(), g: torch.Generator | None = None
) -> torch.Tensor:
    """One random augmented, standardized view: uint8/float (B,1,H,W) -> float (B,1,size,size)."""
    return standardize(photometric(random_affine_crop(to_float(x), size, cfg, g), cfg, g))
