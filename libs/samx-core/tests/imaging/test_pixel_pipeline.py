"""The DICOM display pipeline (modality LUT, VOI, polarity, output depth) on synthetic headers, checked
against pydicom's reference implementations, and on pydicom's real LUT examples."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing
from samx_core.imaging import decode_radiograph
from samx_core.imaging.display import rescale_to_depth, robust_window
from samx_core.imaging.voi import display_pixels

RNG = np.random.default_rng(7)


def _grey_header(bits_stored: int, signed: bool = False, **elements: object) -> Dataset:
    ds = Dataset()
    ds.PhotometricInterpretation, ds.SamplesPerPixel = "MONOCHROME2", 1
    ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation = 16, bits_stored, int(signed)
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("center", "width", "function"),
    [
        (2048, 4096, None),
        (1000, 300, "LINEAR"),
        (1000.5, 1, "LINEAR_EXACT"),
        (700, 2.5, "LINEAR"),
        (3000, 500, "LINEAR_EXACT"),
    ],
)
def test_linear_window_matches_pydicom(center, width, function):
    """The window is folded into the rescale for speed; the result must equal pydicom's
    apply_windowing followed by a plain rescale of its output range."""
    stored = RNG.integers(0, 4096, (64, 80), dtype=np.uint16)
    ds = _grey_header(12, WindowCenter=center, WindowWidth=width)
    if function:
        ds.VOILUTFunction = function
    reference = rescale_to_depth(apply_windowing(stored, ds), 0, 4095, 16)
    np.testing.assert_allclose(display_pixels(stored, ds), reference, atol=1)


def test_window_after_rescale_uses_modality_units():
    """A CT-like slice: the window is in Hounsfield units, after slope and intercept."""
    stored = RNG.integers(-1024, 3072, (32, 32), dtype=np.int16)
    ds = _grey_header(16, signed=True, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
    hounsfield = stored.astype(np.float64) - 1024
    expected = np.clip((hounsfield - 39.5) / 399 + 0.5, 0, 1) * 65535
    np.testing.assert_allclose(display_pixels(stored, ds), np.rint(expected), atol=1)


def test_sigmoid_window_goes_through_pydicom():
    stored = np.arange(0, 4096, dtype=np.uint16).reshape(64, 64)
    ds = _grey_header(12, WindowCenter=2048, WindowWidth=1000, VOILUTFunction="SIGMOID")
    shown = display_pixels(stored, ds).ravel()
    assert np.all(np.diff(shown.astype(np.int32)) >= 0)
    assert shown[0] < 200
    assert shown[-1] > 65335
    assert abs(int(shown[2048]) - 32768) < 100


def test_voi_lut_of_a_real_file_is_applied_and_spans_the_output():
    path = get_testdata_file("vlut_04.dcm")
    ds = pydicom.dcmread(path)
    lut_output = apply_voi(ds.pixel_array, ds)
    descriptor = ds.VOILUTSequence[0].LUTDescriptor
    probe = apply_voi(np.arange(descriptor[1], descriptor[1] + (descriptor[0] or 65536)), ds)
    expected = rescale_to_depth(lut_output, float(probe.min()), float(probe.max()), 8)
    np.testing.assert_array_equal(decode_radiograph(open(path, "rb").read()).pixels, expected)


def test_modality_lut_of_a_real_file_is_applied():
    path = get_testdata_file("mlut_18.dcm")
    ds = pydicom.dcmread(path)
    values = apply_modality_lut(ds.pixel_array, ds)
    expected = rescale_to_depth(values, *robust_window(values), 16)
    np.testing.assert_array_equal(decode_radiograph(open(path, "rb").read()).pixels, expected)


def test_without_a_window_a_robust_percentile_window_ignores_outliers(dicom_factory):
    """A 12-bit image whose anatomy uses 1000..2000 and that has a few dead/hot pixels: min-max
    scaling would squash the anatomy; the 0.5-99.5 % window spreads it over the output."""
    stored = RNG.integers(1000, 2001, (200, 200), dtype=np.uint16)
    stored[:5, :5], stored[-5:, -5:] = 0, 4095
    shown = decode_radiograph(dicom_factory(stored, BitsStored=12)).pixels
    anatomy = shown[10:-10, 10:-10]
    assert anatomy.min() < 0.02 * 65535
    assert anatomy.max() > 0.98 * 65535
    assert shown[0, 0] == 0
    assert shown[-1, -1] == 65535


@pytest.mark.parametrize(
    ("bits_stored", "dtype"),
    [(8, np.uint8), (10, np.uint16), (12, np.uint16), (15, np.uint16), (16, np.uint16)],
)
def test_output_depth_follows_bits_stored(dicom_factory, bits_stored, dtype):
    container = np.uint8 if bits_stored == 8 else np.uint16
    stored = (np.arange(64 * 64) % (1 << bits_stored)).astype(container).reshape(64, 64)
    shown = decode_radiograph(dicom_factory(stored, BitsStored=bits_stored)).pixels
    assert shown.dtype == dtype
    assert shown.min() == 0
    assert shown.max() == np.iinfo(dtype).max


def test_monochrome1_synthetic_ramp_is_reversed(dicom_factory):
    ramp = np.tile(np.arange(256, dtype=np.uint8), (16, 1))
    identity = {"WindowCenter": 128, "WindowWidth": 256}
    mono2 = decode_radiograph(dicom_factory(ramp, **identity)).pixels
    mono1 = decode_radiograph(dicom_factory(ramp, PhotometricInterpretation="MONOCHROME1", **identity)).pixels
    np.testing.assert_array_equal(mono2, ramp)
    np.testing.assert_array_equal(mono1, 255 - ramp)


@pytest.mark.parametrize(
    "broken",
    [
        {"WindowCenter": 100, "WindowWidth": 0},
        {"WindowCenter": 100, "WindowWidth": 50, "VOILUTFunction": "CUBIC"},
        {"RescaleSlope": "", "RescaleIntercept": ""},
    ],
)
def test_unusable_voi_or_rescale_falls_back_instead_of_failing(dicom_factory, broken):
    stored = RNG.integers(0, 4096, (32, 32), dtype=np.uint16)
    shown = decode_radiograph(dicom_factory(stored, BitsStored=12, **broken)).pixels
    assert shown.dtype == np.uint16
    assert shown.max() > 60000


def test_flat_image_does_not_divide_by_zero(dicom_factory):
    shown = decode_radiograph(dicom_factory(np.full((16, 16), 700, np.uint16), BitsStored=12)).pixels
    assert len(np.unique(shown)) == 1
