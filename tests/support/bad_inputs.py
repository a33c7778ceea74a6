"""Inputs ingest must turn away, each with the reason it must give: the shared bad-input corpus.

Built from real files wherever possible (pydicom-data's CR of a distal tibia, pydicom's CT), so the
damage is the only unusual thing about them. Two kinds of reasons occur: the decoder's (a file that
cannot become a radiograph) and the ingest policy's (``POLICY_REASONS``: a CT, burned-in text),
which decode fine and are refused afterwards."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_frames
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID
from samx_core.radiograph import RejectReason

# An identifying header is no longer one of them: the default policy de-identifies it (test_deidentification).
POLICY_REASONS = frozenset({RejectReason.MODALITY_NOT_ALLOWED, RejectReason.BURNED_IN_ANNOTATION})
# Decoded fine, then refused by samx_core.imaging.check_usable (ingest and serving, minimum side 32 px).
USABILITY_REASONS = frozenset({RejectReason.TOO_SMALL, RejectReason.UNIFORM})
# JPEG XL Lossless: a real DICOM transfer syntax (2024) that no installed decoder handles.
UNDECODABLE_TRANSFER_SYNTAX = UID("1.2.840.10008.1.2.4.110")
_CR = "RG3_J2KI.dcm"  # pydicom-data: a real CR (distal tibia), JPEG 2000, 1760 x 1760, 200 KB
_CT = "CT_small.dcm"  # pydicom: a real CT slice, uncompressed, 128 x 128
_SUFFIX = {"png": ".png", "jpeg": ".jpg", "dicom": ".dcm"}


def bad_radiograph_corpus(tmp_dir: Path | str) -> list[tuple[str, bytes, RejectReason]]:
    """(name, bytes, expected reason) for every case; each is also written to ``tmp_dir/<name>.<ext>``
    for tools that take files (the CLI, the C-STORE receiver)."""
    cr = Path(get_testdata_file(_CR)).read_bytes()
    ct = Path(get_testdata_file(_CT)).read_bytes()
    png, jpeg = _raster_exports(cr)
    cases: list[tuple[str, bytes, RejectReason, str]] = [
        ("empty", b"", RejectReason.EMPTY, "bin"),
        ("random_bytes", np.random.default_rng(20240611).bytes(4096), RejectReason.NOT_AN_IMAGE, "bin"),
        (
            "text_file",
            b"This export contains no image, only this note.\n" * 40,
            RejectReason.NOT_AN_IMAGE,
            "txt",
        ),
        (
            "pdf_document",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
            RejectReason.NOT_AN_IMAGE,
            "pdf",
        ),
        ("dicom_cut_in_half", cr[: len(cr) // 2], RejectReason.TRUNCATED, "dicom"),
        ("dicom_pixel_data_cut_short", _cut_into_pixel_data(ct, 3), RejectReason.TRUNCATED, "dicom"),
        ("dicom_encapsulated_cut_short", cr[:-7], RejectReason.TRUNCATED, "dicom"),
        ("dicom_without_pixel_data", _edit(cr, _drop_pixel_data), RejectReason.NO_PIXEL_DATA, "dicom"),
        ("dicom_multi_frame", _edit(cr, _two_frames), RejectReason.MULTI_FRAME, "dicom"),
        (
            "dicom_undecodable_transfer_syntax",
            _redeclare_syntax(cr, UNDECODABLE_TRANSFER_SYNTAX),
            RejectReason.UNSUPPORTED_TRANSFER_SYNTAX,
            "dicom",
        ),
        ("ct_slice", ct, RejectReason.MODALITY_NOT_ALLOWED, "dicom"),
        ("burned_in_annotation", _edit(cr, _burned_in), RejectReason.BURNED_IN_ANNOTATION, "dicom"),
        ("corrupt_png", _corrupt_png(png), RejectReason.DECODE_ERROR, "png"),
        ("truncated_png", png[: len(png) * 2 // 3], RejectReason.TRUNCATED, "png"),
        ("truncated_jpeg", jpeg[: len(jpeg) * 3 // 5], RejectReason.TRUNCATED, "jpeg"),
        ("one_pixel_png", _png(np.full((1, 1), 128, np.uint8)), RejectReason.TOO_SMALL, "png"),
        ("blank_png", _png(np.full((300, 240), 200, np.uint8)), RejectReason.UNIFORM, "png"),
    ]
    folder = Path(tmp_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data, _reason, kind in cases:
        (folder / f"{name}{_SUFFIX.get(kind, '.' + kind)}").write_bytes(data)
    return [(name, data, reason) for name, data, reason, _kind in cases]


def _edit(data: bytes, change) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    change(ds)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _drop_pixel_data(ds: pydicom.Dataset) -> None:
    del ds.PixelData


def _two_frames(ds: pydicom.Dataset) -> None:
    """The same frame twice, as a (rare, but real) multi-frame CR export would carry two exposures."""
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([frame, frame])
    ds.NumberOfFrames = 2


def _redeclare_syntax(data: bytes, syntax: UID) -> bytes:
    """The same file declaring another transfer syntax. Done on the bytes of the file meta group,
    because pydicom refuses to write a syntax it does not know (JPEG XL, for pydicom 3.0)."""
    if data[132:140] != b"\x02\x00\x00\x00UL\x04\x00":
        raise ValueError("expects a Part-10 file whose meta group starts with its group length")
    meta_end = 144 + struct.unpack_from("<I", data, 140)[0]
    meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
    meta.TransferSyntaxUID = syntax
    buffer = DicomBytesIO()
    write_file_meta_info(buffer, meta, enforce_standard=True)
    return data[:132] + buffer.getvalue() + data[meta_end:]


def _burned_in(ds: pydicom.Dataset) -> None:
    ds.PatientName = "Doe^Jane"  # an invented name, as the pixels of such an export would show one
    ds.BurnedInAnnotation = "YES"


def _cut_into_pixel_data(data: bytes, missing: int) -> bytes:
    """The file up to ``missing`` bytes before the end of its (uncompressed) pixel data."""
    ds = pydicom.dcmread(io.BytesIO(data))
    element = ds.get_item("PixelData")
    return data[: element.value_tell + element.length - missing]


def _raster_exports(dicom: bytes) -> tuple[bytes, bytes]:
    """The CR as a research export would have it: min-max scaled to 8 bits, inverted, 440 px; PNG and JPEG.
    Built with pydicom and Pillow only, so the corpus does not depend on the decoder it tests."""
    pixels = pydicom.dcmread(io.BytesIO(dicom)).pixel_array.astype(np.float32)
    grey = 255 - np.rint((pixels - pixels.min()) / max(float(np.ptp(pixels)), 1.0) * 255)
    image = Image.fromarray(grey.astype(np.uint8)).resize((440, 440), Image.Resampling.LANCZOS)
    png, jpeg = io.BytesIO(), io.BytesIO()
    image.save(png, format="PNG")
    image.save(jpeg, format="JPEG", quality=90)
    return png.getvalue(), jpeg.getvalue()


def _corrupt_png(png: bytes) -> bytes:
    """A complete PNG (it still ends with IEND) whose compressed image data is garbage."""
    start = png.index(b"IDAT") + 4
    damaged = bytearray(png)
    damaged[start : start + 16] = b"\xde\xad\xbe\xef" * 4
    return bytes(damaged)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
