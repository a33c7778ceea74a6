"""decode_radiograph on real DICOM files: the two CR radiographs of pydicom-data in four encodings each,
and pydicom's examples for the other syntaxes, photometric interpretations and modalities."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from samx_core.imaging import RadiographRejected, decode_radiograph
from samx_core.radiograph import RejectReason, SourceFormat

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TOP16 = 65535
# pydicom-data's real CR radiographs (both MONOCHROME1): UNCR/J2KR lossless, UNCI/J2KI lossy.
CR_FILES = {
    "RG1": {"shape": (1955, 1841), "bits": 15, "body_part": "CHEST", "view": "PA", "laterality": None},
    "RG3": {"shape": (1760, 1760), "bits": 10, "body_part": "EXTREMITY", "view": "AP", "laterality": "R"},
}
ENCODINGS = {
    "UNCR": "1.2.840.10008.1.2.1",
    "UNCI": "1.2.840.10008.1.2.1",
    "J2KR": "1.2.840.10008.1.2.4.90",
    "J2KI": "1.2.840.10008.1.2.4.91",
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("radiograph", CR_FILES)
def test_real_cr_decodes_to_full_range_16_bit_pixels_and_tags(decoded, radiograph, encoding):
    expected = CR_FILES[radiograph]
    result = decoded(f"{radiograph}_{encoding}.dcm")
    pixels, tags = result.pixels, result.tags

    assert result.source_format is SourceFormat.DICOM
    assert pixels.shape == expected["shape"]
    assert pixels.dtype == np.uint16  # BitsStored > 8
    assert int(pixels.max()) - int(pixels.min()) > 0.6 * TOP16  # windowed onto the output range
    assert (tags.rows, tags.columns) == expected["shape"]
    assert tags.modality == "CR"
    assert tags.photometric_interpretation == "MONOCHROME1"
    assert tags.bits_stored == expected["bits"]
    assert tags.transfer_syntax_uid == ENCODINGS[encoding]
    assert tags.body_part_examined == expected["body_part"]
    assert tags.view_position == expected["view"]
    assert tags.image_laterality == expected["laterality"]
    assert tags.patient_id == f"{9 if radiograph == 'RG1' else 11}{radiograph}"
    assert tags.sop_instance_uid
    assert tags.study_instance_uid
    assert tags.series_instance_uid
    assert tags.has_patient_name is True  # 'CompressedSamples^RGx': the ingest policy must see it
    assert tags.patient_identity_removed is None
    assert tags.pixel_spacing_mm is None  # RG1 says 0.0\0.0, RG3 says nothing: both unknown


@pytest.mark.parametrize("radiograph", CR_FILES)
def test_lossless_jpeg2000_decodes_exactly_like_uncompressed(decoded, radiograph):
    np.testing.assert_array_equal(decoded(f"{radiograph}_J2KR.dcm").pixels, decoded(f"{radiograph}_UNCR.dcm").pixels)
    np.testing.assert_array_equal(decoded(f"{radiograph}_J2KI.dcm").pixels, decoded(f"{radiograph}_UNCI.dcm").pixels)


@pytest.mark.parametrize("radiograph", CR_FILES)
def test_lossy_jpeg2000_stays_close_to_the_original(decoded, radiograph):
    lossy = decoded(f"{radiograph}_J2KI.dcm").pixels.astype(np.int32)
    original = decoded(f"{radiograph}_UNCR.dcm").pixels.astype(np.int32)
    difference = np.abs(lossy - original)
    assert difference.mean() < 0.005 * TOP16
    assert difference.max() < 0.02 * TOP16


@pytest.mark.parametrize("radiograph", CR_FILES)
def test_monochrome1_is_inverted_so_that_air_is_dark(decoded, radiograph):
    """In MONOCHROME1 the highest stored values are the most exposed detector areas (air); they must
    come out dark, and the unexposed (collimated) ones bright."""
    stored = pydicom.dcmread(get_testdata_file(f"{radiograph}_UNCR.dcm")).pixel_array
    shown = decoded(f"{radiograph}_UNCR.dcm").pixels
    air = stored >= np.percentile(stored, 99)
    unexposed = stored <= np.percentile(stored, 1)
    assert np.median(shown[air]) < 0.25 * TOP16
    assert np.median(shown[unexposed]) > 0.75 * TOP16
    assert np.corrcoef(stored.ravel()[::101], shown.ravel()[::101])[0, 1] < -0.99


def test_window_from_the_header_is_applied(decoded):
    """RG3: center 550, width 1024 over 10-bit values -> the stored range [38, 1062) maps onto 0..65535."""
    stored = pydicom.dcmread(get_testdata_file("RG3_UNCR.dcm")).pixel_array.astype(np.float64)
    expected = np.clip((stored - (550 - 0.5)) / (1024 - 1) + 0.5, 0, 1) * TOP16
    np.testing.assert_allclose(decoded("RG3_UNCR.dcm").pixels, np.rint(TOP16 - expected), atol=1)


# pydicom's own examples: one per transfer syntax and pixel layout a radiograph archive can send.
OTHER_FILES = [
    # name, transfer syntax, shape, dtype, modality
    ("CT_small.dcm", "1.2.840.10008.1.2.1", (128, 128), np.uint16, "CT"),
    ("693_J2KR.dcm", "1.2.840.10008.1.2.4.90", (512, 512), np.uint16, "CT"),
    ("MR_small.dcm", "1.2.840.10008.1.2.1", (64, 64), np.uint16, "MR"),
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2", (64, 64), np.uint16, "MR"),
    ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", (64, 64), np.uint16, "MR"),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5", (64, 64), np.uint16, "MR"),
    ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90", (64, 64), np.uint16, "MR"),
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80", (64, 64), np.uint16, "MR"),
    ("JPEG-LL.dcm", "1.2.840.10008.1.2.4.70", (1024, 256), np.uint16, "NM"),
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51", (1024, 256), np.uint16, "NM"),
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", "1.2.840.10008.1.2.4.70", (768, 1024), np.uint8, "US"),
    ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50", (100, 100), np.uint8, "OT"),
    ("SC_rgb_rle.dcm", "1.2.840.10008.1.2.5", (100, 100), np.uint8, "OT"),
    ("US1_J2KR.dcm", "1.2.840.10008.1.2.4.90", (480, 640), np.uint8, "US"),
    ("SC_ybr_full_uncompressed.dcm", "1.2.840.10008.1.2.1", (100, 100), np.uint8, "OT"),
    ("OBXXXX1A_rle.dcm", "1.2.840.10008.1.2.5", (600, 800), np.uint8, "US"),  # PALETTE COLOR
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99", (512, 512), np.uint8, "OT"),
]


@pytest.mark.parametrize(
    ("name", "syntax", "shape", "dtype", "modality"), OTHER_FILES, ids=[row[0] for row in OTHER_FILES]
)
def test_other_syntaxes_and_modalities_decode(testdata, name, syntax, shape, dtype, modality):
    result = decode_radiograph(testdata(name))
    assert result.pixels.shape == shape
    assert result.pixels.dtype == dtype
    assert result.pixels.max() > result.pixels.min()
    assert result.tags.transfer_syntax_uid == syntax
    assert result.tags.modality == modality  # reported, not judged: policy is the ingest service's


def test_colour_dicom_becomes_bt601_luminance(testdata):
    rgb = pydicom.dcmread(get_testdata_file("SC_rgb.dcm")).pixel_array.astype(np.float64)
    expected = np.rint(rgb @ [0.299, 0.587, 0.114])
    np.testing.assert_allclose(decode_radiograph(testdata("SC_rgb.dcm")).pixels, expected, atol=1)


@pytest.mark.parametrize(
    "name",
    [
        "emri_small.dcm",
        "emri_small_RLE.dcm",
        "eCT_Supplemental.dcm",
        "SC_rgb_2frame.dcm",
        "color3d_jpeg_baseline.dcm",
    ],
)
def test_real_multi_frame_files_are_rejected(testdata, name):
    with pytest.raises(RadiographRejected) as rejected:
        decode_radiograph(testdata(name))
    assert rejected.value.reason is RejectReason.MULTI_FRAME


def test_bare_data_sets_without_preamble_are_read(testdata):
    """Old archives hold data sets without the Part-10 preamble; pydicom's examples have no pixels."""
    for name in ("ExplVR_LitEndNoMeta.dcm", "ExplVR_BigEndNoMeta.dcm", "rtstruct.dcm"):
        with pytest.raises(RadiographRejected) as rejected:
            decode_radiograph(testdata(name))
        assert rejected.value.reason is RejectReason.NO_PIXEL_DATA, name
    palette = decode_radiograph(testdata("OT-PAL-8-face.dcm"))  # implicit VR, no preamble, pixels
    assert palette.pixels.shape == (480, 640)
    assert palette.tags.transfer_syntax_uid == "1.2.840.10008.1.2"
