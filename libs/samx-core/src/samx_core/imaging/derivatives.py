"""PNG derivatives: the full-resolution display image SAM-X trains on, and a small thumbnail for people.

PNG because it is lossless, single-channel and 16-bit capable, and every tool reads it. The derivative
keeps the decoded depth (Pillow mode "I;16" for 16-bit, which PNG stores big-endian; Pillow swaps the
bytes); the thumbnail is always 8-bit, made by a box reduction followed by Lanczos, which does not
alias the fine trabecular and grid-line patterns radiographs are full of."""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image

from samx_core.imaging.decode import DecodedRadiograph
from samx_core.imaging.display import to_8bit

# Radiographs are noisy: after PNG's row filters, Huffman coding alone (zlib strategy Z_HUFFMAN_ONLY,
# Pillow's ``compress_type``) gives files as small as full deflate at level 6, three times faster
# (RG1, 1955 x 1841 x 16 bit: 240 ms and 5.4 MiB against 760 ms and 5.4 MiB).
_PNG_OPTIONS = {"compress_level": 1, "compress_type": zlib.Z_HUFFMAN_ONLY}
_MODES = {np.dtype(np.uint8): "L", np.dtype(np.uint16): "I;16"}


def encode_derivative_png(decoded: DecodedRadiograph) -> bytes:
    """Single-channel PNG of ``decoded.pixels`` at full resolution, 8 or 16-bit like the pixels."""
    image = _image(decoded.pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **_PNG_OPTIONS)
    return buffer.getvalue()


def encode_thumbnail_png(decoded: DecodedRadiograph, max_side: int = 256) -> bytes:
    """8-bit PNG whose longer side is at most ``max_side`` (never enlarged), aspect ratio kept."""
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    image = _image(to_8bit(decoded.pixels))
    scale = max_side / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **_PNG_OPTIONS)
    return buffer.getvalue()


def load_derivative(png_bytes: bytes) -> np.ndarray:
    """A derivative (or thumbnail) PNG -> 2-D uint8 or uint16 array, writable, as it was encoded."""
    with Image.open(io.BytesIO(png_bytes), formats=["PNG"]) as image:
        image.load()
        if image.mode == "L":
            return np.array(image, dtype=np.uint8)
        if image.mode in ("I;16", "I;16B", "I;16L"):
            return np.asarray(image).astype(np.uint16)
        if image.mode == "I":  # how older Pillow versions open 16-bit grey PNGs
            return np.asarray(image).clip(0, 65535).astype(np.uint16)
    raise ValueError("not a single-channel 8 or 16-bit PNG derivative")


def _image(pixels: np.ndarray) -> Image.Image:
    mode = _MODES.get(pixels.dtype)
    if mode is None or pixels.ndim != 2:
        raise ValueError("derivatives are made from 2-D uint8 or uint16 pixels")
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if image.mode != mode:  # guard against a Pillow that maps uint16 to mode "I" (32-bit) again
        raise RuntimeError(f"Pillow made a mode {image.mode} image from {pixels.dtype} pixels")
    return image
