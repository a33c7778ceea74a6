"""Shared inputs for the imaging tests: real files (pydicom-data, pydicom's examples, the UNIFESP PNGs)
and a small factory of synthetic DICOM files for the header cases no real file covers."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from samx_core.imaging import DecodedRadiograph, decode_radiograph

CR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


@cache
def testdata_bytes(name: str) -> bytes:
    """A file of pydicom's test data or of pydicom-data (both installed, no download)."""
    path = get_testdata_file(name)
    if path is None:
        raise FileNotFoundError(name)
    return Path(path).read_bytes()


@cache
def decoded_testdata(name: str) -> DecodedRadiograph:
    """Decoding some of these takes most of a second (JPEG 2000): decode each once per session."""
    return decode_radiograph(testdata_bytes(name))


def _datasets_dir() -> Path:
    configured = os.environ.get("SAMX_DATASETS")
    if configured:
        return Path(configured)
    repo = next(p for p in Path(__file__).resolve().parents if (p / "uv.lock").is_file())
    return repo.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def unifesp_pngs() -> list[Path]:
    """A deterministic sample of the UNIFESP PNGs (every 50th labeled image)."""
    images = _datasets_dir() / "unifesp-dev" / "images"
    if not images.is_dir():
        pytest.skip(f"UNIFESP PNGs not found under {images}; set SAMX_DATASETS")
    return sorted(images.glob("*.png"))[::50]


def make_dicom(pixels: np.ndarray, *, part10: bool = True, **elements: object) -> bytes:
    """A minimal CR file around ``pixels`` (2-D grey or (H, W, 3) RGB), explicit VR little endian.
    ``elements`` set or (with None) remove header elements; ``part10=False`` writes a bare data set."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CR_IMAGE_STORAGE, generate_uid(), "CR"
    ds.PatientID, ds.PatientName, ds.PatientIdentityRemoved = "PSEUDO-1", "", "YES"
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 3 if pixels.ndim == 3 else 1
    if pixels.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = "RGB" if pixels.ndim == 3 else "MONOCHROME2"
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    for keyword, value in elements.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    if "BitsStored" in elements:
        ds.HighBit = ds.BitsStored - 1
    out = io.BytesIO()
    if part10:
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(out, enforce_file_format=True)
    else:
        ds.save_as(out, implicit_vr=False, little_endian=True)
    return out.getvalue()


@pytest.fixture
def dicom_factory() -> Callable[..., bytes]:
    return make_dicom


@pytest.fixture(scope="session")
def testdata() -> Callable[[str], bytes]:
    return testdata_bytes


@pytest.fixture(scope="session")
def decoded() -> Callable[[str], DecodedRadiograph]:
    return decoded_testdata
