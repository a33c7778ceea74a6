"""Domain vocabulary of a radiograph as it enters SAM-X: its format, the header fields we keep, and
the reasons an input can be turned away. Pure data: no Kafka, no MinIO, no pixel code."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class SourceFormat(StrEnum):
    DICOM = "dicom"
    PNG = "png"
    JPEG = "jpeg"


class RejectReason(StrEnum):
    """Why an input did not become a radiograph. Stable codes: dashboards and hospitals key on them."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"  # neither DICOM (Part 10 or raw dataset), PNG nor JPEG
    TRUNCATED = "truncated"
    NO_PIXEL_DATA = "no_pixel_data"
    UNSUPPORTED_TRANSFER_SYNTAX = "unsupported_transfer_syntax"
    MULTI_FRAME = "multi_frame"
    DECODE_ERROR = "decode_error"
    TOO_SMALL = "too_small"  # under the service's minimum side (setting)
    UNIFORM = "uniform"  # every pixel the same: a blank or placeholder image
    MODALITY_NOT_ALLOWED = "modality_not_allowed"
    IDENTIFYING_DATA = "identifying_data"
    BURNED_IN_ANNOTATION = "burned_in_annotation"  # text in the pixels (BurnedInAnnotation YES), by policy
    DEIDENTIFICATION_FAILED = "deidentification_failed"  # a header the profile could not be applied to
    CHECKSUM_MISMATCH = "checksum_mismatch"
    OBJECT_MISSING = "object_missing"  # claim check points at an object that is not in the bucket


class RadiographTags(BaseModel):
    """The header fields downstream services use. Identifiers are those of the stored file: keyed
    pseudonyms when ingest de-identified it (the default policy), as sent otherwise (policies ``reject``,
    which takes only de-identified headers, and ``allow``); they go into events and object metadata,
    never into logs, spans or metrics."""

    model_config = ConfigDict(frozen=True)

    modality: str | None = None
    body_part_examined: str | None = None
    view_position: str | None = None
    image_laterality: str | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    rows: int = Field(ge=1)
    columns: int = Field(ge=1)
    photometric_interpretation: str | None = None
    transfer_syntax_uid: str | None = None
    bits_stored: int = Field(ge=1, le=32)
    sop_instance_uid: str | None = None
    patient_id: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    patient_identity_removed: bool | None = None
    has_patient_name: bool = False
    burned_in_annotation: bool | None = None  # BurnedInAnnotation as the header says (None: not said)
