"""Vectorised pixel arithmetic shared by the DICOM and the PNG/JPEG decoders.

Everything here works on whole arrays (no Python loop over pixels): ingest throughput depends on it."""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma weights, the ones Pillow uses for mode "L": a colour PNG and the same picture as a
# colour DICOM then give the same grey values.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# Percentile statistics do not need every pixel; a strided sample of about this many is stable to
# well under one grey level and keeps a 4k x 4k radiograph from costing a full sort.
_WINDOW_SAMPLE = 250_000


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3 or 4) colour samples -> (H, W) float32 luma; an alpha channel is ignored."""
    return rgb[..., :3].astype(np.float32, copy=False) @ _LUMA


def robust_window(values: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> tuple[float, float]:
    """A display window for images that carry none: the 0.5-99.5 percentile range, so that collimator
    edges, burned-in markers and dead pixels do not squash the anatomy into a few grey levels."""
    step = max(1, int(np.sqrt(values.size / _WINDOW_SAMPLE)))
    sample = values[::step, ::step]
    lo, hi = (float(v) for v in np.percentile(sample, [low_pct, high_pct]))
    if not hi > lo:  # nearly flat image: fall back to the full range, then to any non-empty range
        lo, hi = float(sample.min()), float(sample.max())
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def rescale_to_depth(values: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    """Maps [lo, hi] linearly onto the full unsigned range of ``bits`` (8 or 16), clipped and rounded."""
    if bits not in (8, 16):
        raise ValueError("output depth must be 8 or 16 bits")
    top = float((1 << bits) - 1)
    out: np.ndarray = np.subtract(values, lo, dtype=np.float32)
    out *= np.float32(top / (hi - lo))
    np.clip(out, 0.0, top, out=out)
    np.rint(out, out=out)
    return out.astype(np.uint16 if bits == 16 else np.uint8)


def invert(pixels: np.ndarray) -> np.ndarray:
    """MONOCHROME1 -> MONOCHROME2 on an unsigned array already at its output depth (in place)."""
    top = np.iinfo(pixels.dtype).max
    np.subtract(top, pixels, out=pixels)
    return pixels


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 with rounding (x * 255 / 65535 == x / 257); uint8 is returned as is."""
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
