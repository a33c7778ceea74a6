"""Every way an input can fail to become a radiograph gives its own reason, and no detail ever quotes
the header (names, ids, UIDs, dates)."""

from __future__ import annotations

import io
import re
import struct

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import encapsulate, generate_frames
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import MPEG2MPML
from samx_core.imaging import RadiographRejected, decode_radiograph
from samx_core.radiograph import RejectReason

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
JPEG_XL_LOSSLESS = "1.2.840.10008.1.2.4.110"  # standard since 2024, unknown to pydicom 3.0


def _rejection(data: bytes, **options: int) -> RadiographRejected:
    with pytest.raises(RadiographRejected) as rejected:
        decode_radiograph(data, **options)
    return rejected.value


def _reason(data: bytes, **options: int) -> RejectReason:
    return _rejection(data, **options).reason


def _redeclared(data: bytes, syntax: str) -> bytes:
    """The same Part-10 file declaring another transfer syntax; the meta group is rewritten by hand
    because pydicom will not write a syntax it does not know."""
    meta_end = 144 + struct.unpack_from("<I", data, 140)[0]  # after (0002,0000) group length
    meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
    meta.TransferSyntaxUID = syntax
    buffer = DicomBytesIO()
    write_file_meta_info(buffer, meta, enforce_standard=True)
    return data[:132] + buffer.getvalue() + data[meta_end:]


def _two_frames(ds: pydicom.Dataset) -> None:
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData, ds.NumberOfFrames = encapsulate([frame, frame]), 2


def _strip_pixels(ds: pydicom.Dataset) -> None:
    del ds.PixelData


def _break_codestream(ds: pydicom.Dataset) -> None:
    frame = bytearray(next(generate_frames(ds.PixelData, number_of_frames=1)))
    frame[:4] = b"\x00\x00\x00\x00"  # no SOC/SIZ markers: not JPEG 2000 any more
    ds.PixelData = encapsulate([bytes(frame)])


def _edited(data: bytes, change) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    change(ds)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_empty_and_too_large(testdata):
    assert _reason(b"") is RejectReason.EMPTY
    assert _reason(testdata("RG3_J2KI.dcm"), max_bytes=100_000) is RejectReason.TOO_LARGE


def test_announced_size_over_the_pixel_limit_is_too_large_before_decoding(dicom_factory):
    header_only_huge = dicom_factory(np.zeros((4, 4), np.uint8), Rows=10_000, Columns=10_000)
    assert _reason(header_only_huge) is RejectReason.TOO_LARGE


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(1).bytes(2048),
        b"just some text, not an image\n" * 20,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04\x14\x00\x00\x00",
        b"GIF89a\x01\x00\x01\x00",
        b"II*\x00\x08\x00\x00\x00",
        b"DICM",
        b"\x00" * 300,
        b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100",
    ],
    ids=["random", "text", "pdf", "zip", "gif", "tiff", "dicm-only", "zeros", "charset-only-data-set"],
)
def test_anything_else_is_not_an_image(data):
    assert _reason(data) is RejectReason.NOT_AN_IMAGE


@pytest.mark.parametrize("name", ["RG3_UNCR.dcm", "RG3_J2KR.dcm", "CT_small.dcm", "MR_small_RLE.dcm"])
def test_real_file_cut_in_half_is_truncated(testdata, name):
    data = testdata(name)
    assert _reason(data[: len(data) // 2]) is RejectReason.TRUNCATED


def test_real_file_missing_a_few_bytes_of_pixel_data_is_truncated(testdata):
    for name in ("RG1_UNCR.dcm", "CT_small.dcm"):
        data = testdata(name)
        pixel_data = pydicom.dcmread(io.BytesIO(data)).get_item("PixelData")
        assert _reason(data[: pixel_data.value_tell + pixel_data.length - 3]) is RejectReason.TRUNCATED
    assert _reason(testdata("RG3_UNCR.dcm")[:-5]) is RejectReason.TRUNCATED  # inside the trailing padding
    assert _reason(testdata("RG3_J2KR.dcm")[:-9]) is RejectReason.TRUNCATED  # JPEG 2000: delimiter lost
    assert _reason(testdata("MR_truncated.dcm")) is RejectReason.TRUNCATED  # pydicom's own cut file


def test_truncated_png_and_jpeg(unifesp_pngs):
    png = unifesp_pngs[0].read_bytes()
    jpeg = io.BytesIO()
    Image.open(unifesp_pngs[0]).save(jpeg, format="JPEG", exif=Image.Exif())
    assert _reason(png[: len(png) // 2]) is RejectReason.TRUNCATED
    assert _reason(jpeg.getvalue()[:-100]) is RejectReason.TRUNCATED


def test_corrupt_png_is_a_decode_error(unifesp_pngs):
    damaged = bytearray(unifesp_pngs[0].read_bytes())
    start = damaged.index(b"IDAT") + 4
    damaged[start : start + 8] = b"\xde\xad\xbe\xef" * 2
    assert _reason(bytes(damaged)) is RejectReason.DECODE_ERROR


@pytest.mark.parametrize("name", ["test-SR.dcm", "rtplan.dcm", "waveform_ecg.dcm"])
def test_objects_without_pixels_have_no_pixel_data(testdata, name):
    assert _reason(testdata(name)) is RejectReason.NO_PIXEL_DATA


def test_radiograph_stripped_of_its_pixels_has_no_pixel_data(testdata):
    assert _reason(_edited(testdata("RG3_J2KI.dcm"), _strip_pixels)) is RejectReason.NO_PIXEL_DATA


@pytest.mark.parametrize("syntax", [MPEG2MPML, JPEG_XL_LOSSLESS, "1.3.6.1.4.1.99999.1"])
def test_transfer_syntax_without_decoder_is_unsupported(testdata, syntax):
    """A standard syntax nobody decodes (MPEG-2), one newer than pydicom (JPEG XL), a private one."""
    rejection = _rejection(_redeclared(testdata("RG3_J2KI.dcm"), syntax))
    assert rejection.reason is RejectReason.UNSUPPORTED_TRANSFER_SYNTAX


def test_multi_frame_built_from_a_real_radiograph(testdata):
    assert _reason(_edited(testdata("RG3_J2KI.dcm"), _two_frames)) is RejectReason.MULTI_FRAME


def test_damaged_codestream_or_header_is_a_decode_error(testdata, dicom_factory):
    assert _reason(_edited(testdata("RG3_J2KI.dcm"), _break_codestream)) is RejectReason.DECODE_ERROR
    assert _reason(testdata("badVR.dcm")) is RejectReason.DECODE_ERROR  # NumberOfFrames '1A'
    assert _reason(dicom_factory(np.zeros((4, 4), np.uint8), Rows=None)) is RejectReason.DECODE_ERROR


def test_details_never_quote_the_header(testdata):
    """Rejections of files whose headers hold names, ids, UIDs and dates: none of it in the detail."""
    sources = {name: testdata(name) for name in ("RG1_UNCR.dcm", "RG3_J2KI.dcm", "CT_small.dcm", "MR_small_RLE.dcm")}
    headers = [pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True) for data in sources.values()]
    secrets = {
        str(ds.get(keyword))
        for ds in headers
        for keyword in (
            "PatientName",
            "PatientID",
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "StudyDate",
            "PatientBirthDate",
        )
        if ds.get(keyword)
    }
    cr = sources["RG3_J2KI.dcm"]
    bad = [data[: len(data) // 2] for data in sources.values()] + [
        sources["RG1_UNCR.dcm"][:-200],
        cr[:-9],
        _edited(cr, _strip_pixels),
        _edited(cr, _two_frames),
        _edited(cr, _break_codestream),
        _redeclared(cr, JPEG_XL_LOSSLESS),
        _redeclared(cr, "1.3.6.1.4.1.99999.1"),
        testdata("badVR.dcm"),
        testdata("MR_truncated.dcm"),
        cr[:1000],
        cr[:300],
    ]
    details = [_rejection(data).detail for data in bad] + [_rejection(cr, max_bytes=1000).detail]
    for detail in details:
        assert not any(secret in detail for secret in secrets), detail
        # The only UIDs a detail may name are standard ones (a transfer syntax), never an instance's.
        for uid in re.findall(r"\d+(?:\.\d+){3,}", detail):
            assert uid.startswith("1.2.840.10008."), detail
