"""Turning a Grad-CAM map into things people and programs read: a PNG overlay and a .npy array.

The overlay is drawn on the radiograph as it arrived, in its own aspect ratio, not on the square the
model saw: the map (made on the square of the frame-trimmed content) is stretched back onto the content's
box, the radiograph is scaled so its long side is ``long_side`` px (never enlarged past its own size), and
a colour bar on the right says what the colours mean (0 = no evidence, 1 = the map's peak)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw

# A perceptually ordered blue -> cyan -> yellow -> red ramp (5 stops), interpolated per channel.
_STOPS = np.array([[0, 0, 128], [0, 128, 255], [0, 255, 128], [255, 220, 0], [220, 0, 0]], dtype=np.float32)
MIN_LONG_SIDE = 512


def colorize(cam: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8."""
    pos = np.clip(cam, 0, 1) * (len(_STOPS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_STOPS) - 2)
    frac = (pos - lo)[..., None]
    return (_STOPS[lo] * (1 - frac) + _STOPS[lo + 1] * frac).round().astype(np.uint8)


def blend(image: np.ndarray, cam: np.ndarray, *, alpha: float = 0.45) -> np.ndarray:
    """(H, W) uint8 and (H, W) map in [0, 1] -> (H, W, 3) uint8; the map's weight grows with its value, so
    cold regions show the radiograph nearly untouched."""
    grey = np.repeat(image[..., None].astype(np.float32), 3, axis=2)
    weight = alpha * np.clip(cam, 0, 1)[..., None]
    return (grey * (1 - weight) + colorize(cam).astype(np.float32) * weight).round().astype(np.uint8)


def to_display(pixels: np.ndarray) -> np.ndarray:
    """2-D uint8/uint16 -> uint8, as the model input does (16-bit divided down, not windowed)."""
    if pixels.dtype == np.uint16:
        return np.round(pixels.astype(np.float32) / 257.0).astype(np.uint8)
    return pixels.astype(np.uint8, copy=False)


def overlay_on_radiograph(
    pixels: np.ndarray, cam: np.ndarray, box: tuple[int, int, int, int], *, long_side: int = 768
) -> bytes:
    """The radiograph (H, W) with the square map ``cam`` (S, S) in [0, 1] placed on ``box`` (top, bottom,
    left, right), scaled to ``long_side`` (at most the radiograph's own), plus a colour bar; RGB PNG."""
    h, w = pixels.shape
    scale = min(1.0, max(long_side, MIN_LONG_SIDE) / max(h, w))
    out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
    grey = np.asarray(Image.fromarray(to_display(pixels)).resize((out_w, out_h), Image.Resampling.BILINEAR))
    top, bottom, left, right = (round(v * scale) for v in box)
    top, left = min(top, out_h - 1), min(left, out_w - 1)
    bottom, right = max(bottom, top + 1), max(right, left + 1)
    placed = np.zeros((out_h, out_w), dtype=np.float32)
    stretched = Image.fromarray(np.asarray(cam, dtype=np.float32), mode="F").resize(
        (right - left, bottom - top), Image.Resampling.BILINEAR
    )
    placed[top:bottom, left:right] = np.clip(np.asarray(stretched), 0, 1)[: out_h - top, : out_w - left]
    canvas = Image.fromarray(_with_colour_bar(blend(grey, placed)), mode="RGB")
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


def _with_colour_bar(rgb: np.ndarray) -> np.ndarray:
    h = rgb.shape[0]
    bar_w, pad, text_w = max(8, h // 40), 6, 26
    ramp = colorize(np.linspace(1, 0, h)[:, None].repeat(bar_w, axis=1))
    strip = np.full((h, pad + bar_w + text_w, 3), 255, dtype=np.uint8)
    strip[:, pad : pad + bar_w] = ramp
    image = Image.fromarray(strip)
    draw = ImageDraw.Draw(image)
    draw.text((pad + bar_w + 3, 1), "1", fill=(0, 0, 0))
    draw.text((pad + bar_w + 3, max(0, h - 12)), "0", fill=(0, 0, 0))
    return np.concatenate([rgb, np.asarray(image)], axis=1)


def normalised(raw: np.ndarray) -> tuple[np.ndarray, float]:
    """The raw map scaled to [0, 1] by its peak, and the peak (kept so magnitudes stay comparable)."""
    peak = float(np.max(raw)) if raw.size else 0.0
    return (raw / peak if peak > 0 else np.zeros_like(raw)).astype(np.float32), peak


def npy_base64(array: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array, dtype=np.float32), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()
