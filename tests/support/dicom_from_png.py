"""Realistic CR/DX DICOM files rebuilt from the UNIFESP PNGs, for integration tests and benchmarks.

Real DICOM radiographs are rare in public; the UNIFESP PNGs came with their (pseudonymized) headers,
so a file with the real UIDs, patient pseudonym, spacing and exposure can be rebuilt around each PNG.
The pixels are the PNG's 8 bits (already displayed: windowed, MONOCHROME1 inverted, at most 512 px),
and the header says so (ImageType DERIVED, DerivationDescription, ImageComments). An identity window
(center 128, width 256) makes a decoder show the stored values unchanged, so the same picture as PNG or
as DICOM decodes to the same pixels. Every variant of one PNG keeps the CSV's SOP Instance UID so tests
can join it to its labels (an archive would give a lossy JPEG copy a new one)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    RLELossless,
)

from tests.support.jpeg_lossless import encode_jpeg_lossless_sv1

# What can be written, and by whom: pydicom natively (RLE), pylibjpeg-openjpeg through pydicom (JPEG
# 2000), Pillow (JPEG baseline) and jpeg_lossless.py (JPEG Lossless SV1). JPEG-LS would need pyjpegls.
ENCODABLE_TRANSFER_SYNTAXES: tuple[UID, ...] = (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
)
SUPPORTED_TRANSFER_SYNTAXES = ENCODABLE_TRANSFER_SYNTAXES  # the name the integration tests use
JPEG_BASELINE_QUALITY = 95
CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DERIVATION = (
    "8-bit reconstruction from a PNG of the UNIFESP X-ray Body Part Classifier data set (Kaggle "
    "2022; display values, longest side at most 512 px); header values from its dicom_tags.csv. "
    "Not an original acquisition."
)


def build_dicom_from_png(
    png_path: Path | str,
    tag_row: dict[str, str],
    *,
    transfer_syntax: str = ExplicitVRLittleEndian,
    monochrome1: bool = False,
) -> bytes:
    """A Part-10 file of the PNG at ``png_path`` with the header of its ``dicom_tags.csv`` row.

    ``monochrome1`` stores inverted values as MONOCHROME1, as most CR plates do; decoding gives the PNG
    back either way."""
    syntax = UID(str(transfer_syntax))
    if syntax not in ENCODABLE_TRANSFER_SYNTAXES:
        names = ", ".join(uid.name for uid in ENCODABLE_TRANSFER_SYNTAXES)
        raise ValueError(f"cannot encode {syntax.name}; available: {names}")
    with Image.open(png_path) as image:
        pixels = np.asarray(image.convert("L") if image.mode != "L" else image, dtype=np.uint8)
    stored = np.ascontiguousarray(255 - pixels if monochrome1 else pixels)
    ds = _header(tag_row, pixels.shape, monochrome1)
    ds.PixelData = stored.tobytes()
    if syntax in (RLELossless, JPEG2000Lossless):
        ds.compress(syntax, generate_instance_uid=False)
    elif syntax == JPEGBaseline8Bit:
        buffer = io.BytesIO()
        Image.fromarray(stored).save(buffer, format="JPEG", quality=JPEG_BASELINE_QUALITY)
        _encapsulate(ds, buffer.getvalue(), syntax)
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.LossyImageCompressionRatio = round(stored.nbytes / len(buffer.getvalue()), 2)
    elif syntax == JPEGLosslessSV1:
        _encapsulate(ds, encode_jpeg_lossless_sv1(stored), syntax)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _encapsulate(ds: Dataset, frame: bytes, syntax: UID) -> None:
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax


def _header(row: dict[str, str], shape: tuple[int, int], monochrome1: bool) -> Dataset:
    ds = Dataset()
    sop_class = row.get("SOPClassUID") or CR_IMAGE_STORAGE
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = row["SOPInstanceUID"]
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "SAMX_TESTS"

    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = row["SOPInstanceUID"]
    ds.Modality = row.get("Modality") or "CR"
    # Patient and study: pseudonyms only. Type 2 elements are present and empty, as the publisher left them.
    ds.PatientName = ""
    ds.PatientID = row.get("PatientID", "")
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    if row.get("PatientAge"):
        # The CSV holds ages such as '60Y'; the AS value representation wants three digits ('060Y').
        age = row["PatientAge"].strip()
        ds.PatientAge = age[:-1].zfill(3) + age[-1] if age[:-1].isdigit() else age
    ds.PatientIdentityRemoved = "YES" if (row.get("PatientIdentityRemoved") or "yes").lower() == "yes" else "NO"
    ds.DeidentificationMethod = "Pseudonymized by the data set's publisher (UIDs, PatientID)"
    ds.StudyInstanceUID = row["StudyInstanceUID"]
    ds.SeriesInstanceUID = row["SeriesInstanceUID"]
    for keyword in (
        "StudyDate",
        "StudyTime",
        "ReferringPhysicianName",
        "StudyID",
        "AccessionNumber",
        "BodyPartExamined",
        "ViewPosition",
        "PatientOrientation",
    ):
        setattr(ds, keyword, "")
    ds.SeriesNumber = None
    ds.InstanceNumber = None
    _exposure(ds, row)
    ds.DerivationDescription = DERIVATION
    ds.ImageComments = "Reconstruction from an 8-bit PNG of the UNIFESP data set, not an original image."

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.Rows, ds.Columns = shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    spacing = _spacing(row, shape)
    if spacing is not None:
        ds.PixelSpacing = spacing
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.WindowCenterWidthExplanation = "IDENTITY: the PNG is already a display image"
    return ds


def _exposure(ds: Dataset, row: dict[str, str]) -> None:
    """Technique factors where the archive had them (ExposureTime and tube current are IS: integers)."""
    if row.get("KVP"):
        ds.KVP = float(row["KVP"])
    if row.get("ExposureTime"):
        ds.ExposureTime = round(float(row["ExposureTime"]))
    if row.get("XRayTubeCurrent"):
        ds.XRayTubeCurrent = round(float(row["XRayTubeCurrent"]))
    if row.get("DistanceSourceToDetector"):
        ds.DistanceSourceToDetector = float(row["DistanceSourceToDetector"])


def _spacing(row: dict[str, str], shape: tuple[int, int]) -> list[float] | None:
    """The original spacing scaled by the downsizing, which kept the aspect ratio: the pixel of the PNG
    covers original-longest-side / PNG-longest-side original pixels."""
    text, rows, columns = row.get("PixelSpacing"), row.get("Rows"), row.get("Columns")
    if not text or not rows or not columns:
        return None
    values = [float(v) for v in text.replace("\\", " ").replace(",", " ").split()]
    row_mm, column_mm = (values[0], values[0]) if len(values) == 1 else (values[0], values[1])
    scale = max(int(rows), int(columns)) / max(shape)
    return [round(row_mm * scale, 6), round(column_mm * scale, 6)]
