"""Turning a Grad-CAM map into things people and programs read: a PNG overlay and a .npy array."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

# A perceptually ordered blue -> cyan -> yellow -> red ramp (5 stops), interpolated per channel.
_STOPS = np.array([[0, 0, 128], [0, 128, 255], [0, 255, 128], [255, 220, 0], [220, 0, 0]], dtype=np.float32)


def colorize(cam: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8."""
    pos = np.clip(cam, 0, 1) * (len(_STOPS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_STOPS) - 2)
    frac = (pos - lo)[..., None]
    return (_STOPS[lo] * (1 - frac) + _STOPS[lo + 1] * frac).round().astype(np.uint8)


def overlay_png(image: np.ndarray, cam: np.ndarray, *, alpha: float = 0.45) -> bytes:
    """(H, W) uint8 radiograph and (H, W) map in [0, 1] -> RGB PNG; the map's weight grows with its value,
    so cold regions show the radiograph nearly untouched."""
    grey = np.repeat(image[..., None].astype(np.float32), 3, axis=2)
    weight = alpha * np.clip(cam, 0, 1)[..., None]
    rgb = (grey * (1 - weight) + colorize(cam).astype(np.float32) * weight).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def npy_base64(array: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array, dtype=np.float32), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()
