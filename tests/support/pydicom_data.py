"""The real CR radiographs of the ``pydicom-data`` package, made fit for SAM-X's ingest policy.

As published they carry a sample patient name and no de-identification flag, which ingest rightly
rejects. A hospital's de-identification gateway would blank the name and set PatientIdentityRemoved;
we do the same here, touching only the header (the encoded pixel data stays byte for byte). Each image
ships as several encodings of one SOP instance, which exercises duplicate detection by instance UID."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid


def pydicom_data_dir() -> Path:
    import data_store

    return Path(data_store.__file__).parent / "data"


def pseudonymized_real_crs(
    names: tuple[str, ...] = ("RG1_UNCR", "RG1_J2KR", "RG3_UNCR", "RG3_J2KR"),
) -> dict[str, bytes]:
    # The sample files reuse one SOP Instance UID for different images; give each image its own, and
    # keep it shared between the encodings of the same image, as a PACS would.
    instance_uids: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for name in names:
        ds = pydicom.dcmread(pydicom_data_dir() / f"{name}.dcm")
        image = name.split("_")[0]
        uid = instance_uids.setdefault(image, generate_uid(entropy_srcs=["samx-test", image]))
        ds.SOPInstanceUID = uid
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.PatientName = ""
        ds.PatientID = f"pseudo-{image}"
        ds.PatientIdentityRemoved = "YES"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files[name] = buffer.getvalue()
    return files
