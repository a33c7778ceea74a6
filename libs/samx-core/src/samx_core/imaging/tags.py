"""DICOM header -> RadiographTags, forgiving of the header quality real archives have.

Every field is optional except the geometry, because a missing or malformed Laterality must never cost
a radiograph: a value that cannot be read becomes None. Identifiers are copied as they are (the ingest
policy decides about them); the patient name itself is never copied, only whether there is one."""

from __future__ import annotations

import math

from pydicom.dataset import Dataset
from pydicom.uid import UID

from samx_core.radiograph import RadiographTags


def dicom_tags(ds: Dataset, syntax: UID, shape: tuple[int, ...]) -> RadiographTags:
    bits = _int(ds, "BitsStored") or _int(ds, "BitsAllocated") or 8
    return RadiographTags(
        modality=_text(ds, "Modality"),
        body_part_examined=_text(ds, "BodyPartExamined"),
        view_position=_text(ds, "ViewPosition"),
        image_laterality=_text(ds, "ImageLaterality") or _text(ds, "Laterality"),
        pixel_spacing_mm=_spacing(ds),
        rows=shape[0],
        columns=shape[1],
        photometric_interpretation=_text(ds, "PhotometricInterpretation"),
        transfer_syntax_uid=str(syntax),
        bits_stored=min(max(bits, 1), 32),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        patient_id=_text(ds, "PatientID"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        patient_identity_removed=_yes_no(ds, "PatientIdentityRemoved"),
        has_patient_name=_has_patient_name(ds),
        burned_in_annotation=_yes_no(ds, "BurnedInAnnotation"),
    )


def raster_tags(rows: int, columns: int, bits: int) -> RadiographTags:
    """PNG and JPEG exports have no header: only what the pixels themselves tell."""
    return RadiographTags(rows=rows, columns=columns, bits_stored=bits)


def _text(ds: Dataset, keyword: str) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:  # a value pydicom cannot convert: treated as absent
        return None
    if value is None:
        return None
    if not isinstance(value, str | bytes) and hasattr(value, "__len__"):
        value = value[0] if len(value) else None  # a multi-valued field where one is expected
    text = str(value).strip() if value is not None else ""
    return text or None


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    """PixelSpacing (calibrated in the patient plane), else ImagerPixelSpacing (at the detector).
    Zero, negative or non-numeric spacings, which occur in real headers, mean 'unknown'."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            value = ds.get(keyword)
            if value is None or isinstance(value, str | bytes) or len(value) != 2:
                continue
            row, column = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            continue
        if all(math.isfinite(v) and v > 0 for v in (row, column)):
            return row, column
    return None


def _yes_no(ds: Dataset, keyword: str) -> bool | None:
    text = (_text(ds, keyword) or "").upper()
    return {"YES": True, "NO": False}.get(text)


def _has_patient_name(ds: Dataset) -> bool:
    """True when any name component has a letter or digit: '^^^' and '' are empty names."""
    try:
        value = ds.get("PatientName")
    except Exception:
        return True  # unreadable but present: assume a name rather than let it through
    return value is not None and any(ch.isalnum() for ch in str(value))
