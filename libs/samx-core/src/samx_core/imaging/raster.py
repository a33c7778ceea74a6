"""PNG and JPEG research exports -> (display pixels, tags).

Exports are already display images (windowed, MONOCHROME1 inverted), so their values are kept: 8-bit
stays 8-bit, 16-bit stays 16-bit; colour and palette images become BT.601 luminance, the same formula
the DICOM path uses. JPEG orientation comes from EXIF, as a viewer would show it. Truncation is
recognised from the file structure (a PNG ends with IEND, a JPEG's last scan is followed by EOI)
rather than from Pillow's messages."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from samx_core.imaging.display import luminance, rescale_to_depth
from samx_core.imaging.errors import RadiographRejected
from samx_core.imaging.limits import MAX_PIXELS
from samx_core.imaging.tags import raster_tags
from samx_core.radiograph import RadiographTags, RejectReason, SourceFormat

_GREY16 = ("I;16", "I;16L", "I;16B", "I;16N")
_COLOUR = ("RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "P", "PA")


def decode_raster(data: bytes, source_format: SourceFormat) -> tuple[np.ndarray, RadiographTags]:
    if not _is_complete(data, source_format):
        raise RadiographRejected(RejectReason.TRUNCATED, f"the {source_format.value.upper()} file is cut short")
    try:
        with Image.open(io.BytesIO(data), formats=[source_format.value.upper()]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise RadiographRejected(
                    RejectReason.TOO_LARGE,
                    f"{image.height} x {image.width} pixels is over the {MAX_PIXELS} pixel limit",
                )
            image.load()
            oriented = ImageOps.exif_transpose(image) if source_format is SourceFormat.JPEG else image
            pixels = _grey(oriented)
    except RadiographRejected:
        raise
    except Image.DecompressionBombError:
        raise RadiographRejected(RejectReason.TOO_LARGE, "the image is over Pillow's pixel limit") from None
    except Exception as exc:  # OSError, SyntaxError, zlib.error...: never quote them
        reason = RejectReason.TRUNCATED if "truncated" in str(exc).lower() else RejectReason.DECODE_ERROR
        raise RadiographRejected(
            reason, f"the {source_format.value.upper()} image could not be decoded ({type(exc).__name__})"
        ) from None
    return pixels, raster_tags(pixels.shape[0], pixels.shape[1], 16 if pixels.dtype == np.uint16 else 8)


def _grey(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode == "L":
        return np.asarray(image, dtype=np.uint8)
    if mode in _GREY16:
        return np.asarray(image).astype(np.uint16)  # also turns big-endian I;16B into native order
    if mode == "I":  # 16-bit grey PNGs opened by older Pillow versions, as int32
        return np.asarray(image).clip(0, 65535).astype(np.uint16)
    if mode == "1":
        return np.asarray(image.convert("L"), dtype=np.uint8)
    if mode == "LA":
        return np.asarray(image.getchannel(0), dtype=np.uint8)
    if mode in _COLOUR:
        rgb = image if mode in ("RGB", "RGBA", "RGBX") else image.convert("RGB")
        return rescale_to_depth(luminance(np.asarray(rgb)), 0.0, 255.0, 8)
    raise ValueError("unsupported image mode")


def _is_complete(data: bytes, source_format: SourceFormat) -> bool:
    if source_format is SourceFormat.PNG:
        return data.rfind(b"IEND") != -1
    # The last start-of-scan must be followed by an end-of-image marker. Checking for EOI alone would
    # be fooled by the EXIF thumbnail, a complete JPEG of its own inside the APP1 segment.
    last_scan = data.rfind(b"\xff\xda")
    return last_scan != -1 and data.rfind(b"\xff\xd9") > last_scan
