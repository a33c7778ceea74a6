"""The model-input square: frames (letterbox, collimation masks) trimmed the same wherever they come from,
and left alone where there is none."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from samx_core.imaging import to_uint8_square
from samx_core.imaging.model_input import content_box


def _grey(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def _framed(pixels: np.ndarray, width: int, value: int) -> np.ndarray:
    return np.pad(pixels, width, constant_values=value)


def test_a_frame_added_around_a_radiograph_is_trimmed_back_to_the_same_square(unifesp_pngs):
    """Black letterbox, white mask, and both nested around real radiographs: the model input comes back
    to that of the bare radiograph (whose own collimation frame is trimmed too). Not always to the pixel:
    dark air at an image's edge is indistinguishable from a black letterbox next to it, and lines near
    the share threshold can fall either way, so most squares must be identical and nearly all close."""
    distances = []  # mean |trimmed framed - bare|, as a share of the same for the untrimmed framed square
    for path in unifesp_pngs:
        pixels = _grey(path)
        expected = to_uint8_square(pixels, 64, trim_frame=True).astype(np.float32)
        for framed in (_framed(pixels, 40, 0), _framed(pixels, 25, 255), _framed(_framed(pixels, 30, 255), 50, 0)):
            trimmed = to_uint8_square(framed, 64, trim_frame=True).astype(np.float32)
            untrimmed = to_uint8_square(framed, 64).astype(np.float32)
            distances.append(np.abs(trimmed - expected).mean() / np.abs(untrimmed - expected).mean())
    distances = np.array(distances)
    assert len(distances) >= 60
    assert (distances == 0).mean() >= 0.7, distances.round(3)
    assert np.quantile(distances, 0.9) < 0.15 and distances.max() < 0.95, distances.round(3)


def test_the_box_is_exact_on_a_synthetic_frame_with_a_side_marker():
    rng = np.random.default_rng(0)
    anatomy = rng.integers(20, 230, size=(300, 200), dtype=np.uint8)
    framed = np.zeros((400, 360), dtype=np.uint8)
    framed[60:360, 90:290] = anatomy
    framed[10:18, 10:14] = 255  # an 'L' side marker printed on the frame: a few pixels of its lines
    assert content_box(framed) == (60, 360, 90, 290)


def test_textured_content_up_to_the_edge_is_kept():
    rng = np.random.default_rng(3)
    busy = np.clip(rng.normal(128, 40, size=(200, 200)), 0, 255).round().astype(np.uint8)
    assert content_box(busy) == (0, 200, 0, 200)


def test_sixteen_bit_frames_and_large_images_are_trimmed_on_a_coarse_probe():
    rng = np.random.default_rng(1)
    framed = np.full((3000, 2400), 65535, dtype=np.uint16)  # a white mask at 16 bits
    framed[600:2400, 300:2100] = rng.integers(5000, 60000, size=(1800, 1800), dtype=np.uint16)
    top, bottom, left, right = content_box(framed)
    step = 6  # the probe of a 3000 px image: every 6th pixel
    assert 600 - step < top <= 600 and 2400 <= bottom < 2400 + step  # never cuts into the content
    assert 300 - step < left <= 300 and 2100 <= right < 2100 + step


def test_no_frame_means_no_change():
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, size=(120, 90), dtype=np.uint8)
    assert content_box(pixels) == (0, 120, 0, 90)
    assert np.array_equal(to_uint8_square(pixels, 32, trim_frame=True), to_uint8_square(pixels, 32))


@pytest.mark.parametrize("kept", [0, 10])
def test_a_nearly_blank_image_is_not_trimmed_to_a_sliver(kept):
    pixels = np.zeros((200, 200), dtype=np.uint8)
    pixels[95 : 95 + kept, 95 : 95 + kept] = 200
    assert content_box(pixels) == (0, 200, 0, 200)


def test_other_pixel_types_are_refused():
    with pytest.raises(ValueError, match="pixel type"):
        to_uint8_square(np.zeros((4, 4), dtype=np.float32), 2, trim_frame=True)
