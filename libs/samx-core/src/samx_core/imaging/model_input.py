"""The one resize every model input goes through, in training and in serving alike.

Training loads the stored derivative PNG and squares it to the profile's working size; serving must do
exactly the same to a radiograph it receives, or the model sees a different distribution."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_uint8_square(pixels: np.ndarray, size: int) -> np.ndarray:
    """2-D uint8/uint16 pixels -> (size, size) uint8, antialiased resize (the aspect ratio is not kept)."""
    if pixels.dtype == np.uint16:
        pixels = np.round(pixels.astype(np.float32) / 257.0).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise ValueError(f"unexpected pixel type {pixels.dtype}")
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None))
