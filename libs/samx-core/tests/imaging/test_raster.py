"""PNG and JPEG research exports, and the promise that one picture gives one derivative whether it
arrives as PNG or as DICOM."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from samx_core.imaging import decode_radiograph, encode_derivative_png
from samx_core.radiograph import SourceFormat


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_unifesp_pngs_are_kept_as_8_bit_display_values(unifesp_pngs):
    for path in unifesp_pngs:
        expected = np.asarray(Image.open(path))
        result = decode_radiograph(path.read_bytes())
        assert result.source_format is SourceFormat.PNG
        assert result.pixels.dtype == np.uint8
        np.testing.assert_array_equal(result.pixels, expected)
        assert (result.tags.rows, result.tags.columns, result.tags.bits_stored) == (*expected.shape, 8)
        assert result.tags.modality is None
        assert result.tags.sop_instance_uid is None


def test_16_bit_png_keeps_its_values(decoded):
    pixels = np.ascontiguousarray(decoded("RG3_UNCR.dcm").pixels[::4, ::4])
    result = decode_radiograph(_encode(Image.fromarray(pixels), "PNG"))
    assert result.pixels.dtype == np.uint16
    assert result.tags.bits_stored == 16
    np.testing.assert_array_equal(result.pixels, pixels)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA", "1"])
def test_other_png_modes_become_grey_luminance(unifesp_pngs, mode):
    grey = Image.open(unifesp_pngs[0]).convert("L")
    tinted = Image.merge("RGB", (grey, grey.point(lambda v: v * 0.8), grey.point(lambda v: v * 0.6)))
    source = {
        "RGB": tinted,
        "RGBA": tinted.convert("RGBA"),
        "P": tinted.quantize(64),
        "LA": grey.convert("LA"),
        "1": grey.convert("1"),
    }[mode]
    result = decode_radiograph(_encode(source, "PNG"))
    assert result.pixels.ndim == 2
    assert result.pixels.shape == (grey.height, grey.width)
    expected = np.asarray(source.convert("RGB").convert("L"), dtype=np.int16)
    assert np.abs(result.pixels.astype(np.int16) - expected).max() <= 1


def test_jpeg_export_is_decoded_close_to_its_source(unifesp_pngs):
    grey = Image.open(unifesp_pngs[1])
    result = decode_radiograph(_encode(grey, "JPEG", quality=95))
    assert result.source_format is SourceFormat.JPEG
    assert result.pixels.dtype == np.uint8
    assert np.abs(result.pixels.astype(np.int16) - np.asarray(grey, dtype=np.int16)).mean() < 2


def test_jpeg_exif_orientation_is_applied(unifesp_pngs):
    """Orientation 6: the camera was turned, a viewer rotates the picture 90 degrees clockwise."""
    grey = Image.open(unifesp_pngs[2])
    exif = Image.Exif()
    exif[0x0112] = 6
    result = decode_radiograph(_encode(grey, "JPEG", quality=95, exif=exif))
    rotated = np.rot90(np.asarray(grey, dtype=np.int16), k=-1)
    assert result.pixels.shape == rotated.shape
    assert np.abs(result.pixels.astype(np.int16) - rotated).mean() < 2


@pytest.mark.parametrize("monochrome1", [False, True])
def test_same_picture_as_png_or_dicom_gives_the_same_derivative(unifesp_pngs, dicom_factory, monochrome1):
    """A DICOM built from the PNG (identity window, as the corpus builder does) decodes to the PNG's
    pixels, and so to the same derivative file."""
    for path in unifesp_pngs[:5]:
        png = path.read_bytes()
        pixels = np.asarray(Image.open(path), dtype=np.uint8)
        stored = 255 - pixels if monochrome1 else pixels
        dicom = dicom_factory(
            stored,
            BitsStored=8,
            WindowCenter=128,
            WindowWidth=256,
            PhotometricInterpretation="MONOCHROME1" if monochrome1 else "MONOCHROME2",
        )
        from_png, from_dicom = decode_radiograph(png), decode_radiograph(dicom)
        np.testing.assert_array_equal(from_dicom.pixels, from_png.pixels)
        assert encode_derivative_png(from_dicom) == encode_derivative_png(from_png)
