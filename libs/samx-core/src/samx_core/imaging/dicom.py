"""DICOM bytes -> (display pixels, header tags).

The checks run cheapest first and before any pixel is decoded, so that a bad file is turned away
without paying for a JPEG 2000 decode: read the header once, tell truncation from a missing pixel
element, refuse multi-frame objects and syntaxes nobody can decode, then decode exactly once.
The pixel pipeline follows PS3.4 N.2 (grayscale standard display): modality LUT, VOI LUT or window,
then MONOCHROME1 inversion, then the output depth SAM-X stores (see ``voi.py``)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from samx_core.imaging.errors import RadiographRejected
from samx_core.imaging.limits import MAX_PIXELS
from samx_core.imaging.tags import dicom_tags
from samx_core.imaging.voi import display_pixels
from samx_core.radiograph import RadiographTags, RejectReason

_UNDEFINED_LENGTH = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010
_PIXEL_ELEMENTS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Enough header to call a forced (preamble-less) read a data set rather than bytes that happen to parse.
_IMAGE_HINTS = ("SOPClassUID", "Modality", "Rows", "PixelData")


def decode_dicom(data: bytes, *, part10: bool) -> tuple[np.ndarray, RadiographTags]:
    ds = _read(data, part10=part10)
    syntax = _transfer_syntax(ds)
    if _is_truncated(ds, data, syntax):
        raise RadiographRejected(RejectReason.TRUNCATED, "the DICOM file ends inside an element")
    if not any(name in ds for name in _PIXEL_ELEMENTS):
        raise RadiographRejected(RejectReason.NO_PIXEL_DATA, "the DICOM object has no pixel data element")
    frames = _int_tag(ds, "NumberOfFrames", default=1)
    if frames > 1:
        raise RadiographRejected(
            RejectReason.MULTI_FRAME,
            f"the DICOM object holds {frames} frames; SAM-X takes single radiographs",
        )
    _check_decoder(syntax)
    rows, columns = _int_tag(ds, "Rows", default=0), _int_tag(ds, "Columns", default=0)
    if rows < 1 or columns < 1:
        raise RadiographRejected(RejectReason.DECODE_ERROR, "the DICOM header has no valid Rows/Columns")
    if rows * columns > MAX_PIXELS:
        raise RadiographRejected(
            RejectReason.TOO_LARGE, f"{rows} x {columns} pixels is over the {MAX_PIXELS} pixel limit"
        )
    if not syntax.is_compressed and "PixelData" in ds and _native_shortfall(ds, rows, columns) > 0:
        raise RadiographRejected(RejectReason.TRUNCATED, "the pixel data is shorter than the header announces")
    try:
        arr = ds.pixel_array
        pixels = display_pixels(np.squeeze(arr) if arr.ndim > 2 and arr.shape[0] == 1 else arr, ds)
    except RadiographRejected:
        raise
    except Exception as exc:  # codec and pydicom errors alike: the detail must not quote them
        raise RadiographRejected(
            RejectReason.DECODE_ERROR, f"the pixel data could not be decoded ({type(exc).__name__})"
        ) from None
    return pixels, dicom_tags(ds, syntax, pixels.shape)


def _read(data: bytes, *, part10: bool) -> Dataset:
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=not part10)
    except (EOFError, OSError, struct.error):  # OSError: pydicom's "no tag to read at file position"
        raise RadiographRejected(RejectReason.TRUNCATED, "the DICOM file ends inside its header") from None
    except Exception as exc:  # InvalidDicomError and whatever a damaged header provokes
        reason = RejectReason.DECODE_ERROR if part10 else RejectReason.NOT_AN_IMAGE
        raise RadiographRejected(reason, f"the DICOM header cannot be read ({type(exc).__name__})") from None
    if not part10 and not any(name in ds for name in _IMAGE_HINTS):
        raise RadiographRejected(RejectReason.NOT_AN_IMAGE, "neither DICOM (Part 10 or a data set), PNG nor JPEG")
    return ds


def _transfer_syntax(ds: Dataset) -> UID:
    """The declared syntax; for a bare data set (or a meta group without one) the encoding pydicom
    found while reading, recorded in the file meta because the pixel decoders look there."""
    meta = getattr(ds, "file_meta", None)
    declared = meta.get("TransferSyntaxUID") if meta is not None else None
    if declared:
        return UID(str(declared))
    implicit, little = ds.original_encoding
    syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax
    return syntax


def _is_truncated(ds: Dataset, data: bytes, syntax: UID) -> bool:
    """pydicom reads a cut file leniently: a short last value, or an encapsulated pixel element
    dropped because its delimiter is missing. Both show as bytes the last element does not account
    for. (A file cut exactly between two elements cannot be told from a complete one.)"""
    keys = list(ds.keys())
    if not keys:
        return True  # a file meta group with no data set after it
    last = ds.get_item(keys[-1])
    if not isinstance(last, RawDataElement) or last.value is None:
        return False  # already parsed (a sequence): nothing left to measure
    if last.length != _UNDEFINED_LENGTH:
        if len(last.value) < last.length:
            return True
        end = last.value_tell + last.length
    elif last.tag == _PIXEL_DATA:
        end = last.value_tell + len(last.value) + 8  # + the sequence delimitation item
    else:
        return False
    if syntax == DeflatedExplicitVRLittleEndian:
        return False  # offsets count inflated bytes
    # Zero padding after the data set (some writers round files up to a block) is not a cut.
    return end < len(data) and data[end:].lstrip(b"\x00") != b""


def _check_decoder(syntax: UID) -> None:
    name = syntax.name if syntax.startswith("1.2.840.10008.") else "a private transfer syntax"
    try:
        available = get_decoder(syntax).is_available
    except (NotImplementedError, ValueError):
        available = False
    if not available:
        raise RadiographRejected(RejectReason.UNSUPPORTED_TRANSFER_SYNTAX, f"no decoder is installed for {name}")


def _native_shortfall(ds: Dataset, rows: int, columns: int) -> int:
    """Bytes missing from uncompressed pixel data (positive when the value is cut short)."""
    samples = _int_tag(ds, "SamplesPerPixel", default=1)
    bits = _int_tag(ds, "BitsAllocated", default=8)
    expected = rows * columns * samples * bits // 8 if bits >= 8 else (rows * columns * samples + 7) // 8
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "YBR_FULL_422":
        expected = expected * 2 // 3  # two chroma samples shared by each pair of pixels
    return expected - len(ds.PixelData)


def _int_tag(ds: Dataset, keyword: str, *, default: int) -> int:
    try:
        value = ds.get(keyword)
        return default if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        raise RadiographRejected(RejectReason.DECODE_ERROR, f"the DICOM header has an invalid {keyword}") from None
