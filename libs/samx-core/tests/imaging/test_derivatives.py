"""PNG derivatives: exact round trips at 8 and 16 bits, thumbnails that keep the aspect ratio and look
like the image, and the DecodedRadiograph value type they are made from."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image
from samx_core.imaging import (
    DecodedRadiograph,
    decode_radiograph,
    encode_derivative_png,
    encode_thumbnail_png,
    load_derivative,
)
from samx_core.radiograph import RadiographTags, SourceFormat


def _png_header(png: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from the IHDR chunk, independent of Pillow."""
    assert png[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    return width, height, depth, colour


def _radiograph(pixels: np.ndarray) -> DecodedRadiograph:
    tags = RadiographTags(rows=pixels.shape[0], columns=pixels.shape[1], bits_stored=pixels.itemsize * 8)
    return DecodedRadiograph(pixels, SourceFormat.PNG, tags)


def test_16_bit_derivative_round_trips_exactly(decoded):
    radiograph = decoded("RG1_UNCR.dcm")
    png = encode_derivative_png(radiograph)
    assert _png_header(png) == (1841, 1955, 16, 0)  # 16-bit grey, not 8-bit, not RGB
    assert Image.open(io.BytesIO(png)).mode == "I;16"
    loaded = load_derivative(png)
    assert loaded.dtype == np.uint16
    np.testing.assert_array_equal(loaded, radiograph.pixels)
    loaded[0, 0] ^= 1  # training code gets a writable array


def test_8_bit_derivative_round_trips_exactly():
    pixels = np.random.default_rng(3).integers(0, 256, (37, 53), dtype=np.uint8)
    png = encode_derivative_png(_radiograph(pixels))
    assert _png_header(png) == (53, 37, 8, 0)
    np.testing.assert_array_equal(load_derivative(png), pixels)


def test_16_bit_values_are_not_byte_swapped_or_scaled():
    """Values with distinct high and low bytes catch an endianness slip in 'I;16' handling."""
    pixels = np.array([[0x0102, 0xFF00], [0x00FF, 0xFFFF]], dtype=np.uint16)
    np.testing.assert_array_equal(load_derivative(encode_derivative_png(_radiograph(pixels))), pixels)


@pytest.mark.parametrize(
    ("shape", "max_side", "expected"),
    [
        ((1955, 1841), 256, (241, 256)),
        ((1760, 1760), 256, (256, 256)),
        ((300, 1200), 128, (128, 32)),
        ((100, 80), 256, (80, 100)),
        ((4000, 3), 64, (1, 64)),
    ],
)
def test_thumbnail_keeps_aspect_is_8_bit_and_never_enlarges(shape, max_side, expected):
    pixels = np.random.default_rng(5).integers(0, 65536, shape, dtype=np.uint16)
    png = encode_thumbnail_png(_radiograph(pixels), max_side=max_side)
    assert _png_header(png)[:4] == (*expected, 8, 0)


def test_thumbnail_looks_like_an_area_average_of_the_image(decoded):
    """Good downscaling: close to a block mean of the 8-bit image (no aliasing, no shift, no gamma)."""
    radiograph = decoded("RG3_UNCR.dcm")  # 1760 px -> 220 px, a factor of exactly 8
    thumbnail = load_derivative(encode_thumbnail_png(radiograph, max_side=220)).astype(np.float64)
    block_mean = (radiograph.pixels / 257.0).reshape(220, 8, 220, 8).mean(axis=(1, 3))
    assert thumbnail.shape == (220, 220)
    assert np.abs(thumbnail - block_mean).mean() < 2.0


def test_load_derivative_refuses_colour_pngs():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    with pytest.raises(ValueError, match="single-channel"):
        load_derivative(buffer.getvalue())


def test_decoded_radiograph_is_a_read_only_2d_grey_image():
    pixels = np.zeros((4, 5), np.uint8)
    radiograph = _radiograph(pixels)
    with pytest.raises(ValueError, match="read-only"):
        radiograph.pixels[0, 0] = 1
    pixels[0, 0] = 7  # the caller's own array stays writable (the value holds a read-only view)
    assert radiograph.bits == 8
    for wrong in (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.float32), np.zeros((4, 5), np.int16)):
        with pytest.raises(ValueError, match="2-D uint8 or uint16"):
            _radiograph(wrong)


def test_decode_then_derive_a_unifesp_png_gives_back_the_file_pixels(unifesp_pngs):
    path = unifesp_pngs[3]
    derivative = encode_derivative_png(decode_radiograph(path.read_bytes()))
    np.testing.assert_array_equal(load_derivative(derivative), np.asarray(Image.open(path)))
