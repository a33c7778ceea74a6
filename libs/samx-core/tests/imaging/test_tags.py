"""Header fields as real archives fill them: spacing from either element, de-identification flags,
empty names, and malformed values that must cost a field, never the radiograph."""

from __future__ import annotations

import numpy as np
import pytest
from samx_core.imaging import decode_radiograph

PIXELS = np.arange(64, dtype=np.uint16).reshape(8, 8)


def _tags(dicom_factory, **elements):
    return decode_radiograph(dicom_factory(PIXELS, BitsStored=12, **elements)).tags


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        ({"PixelSpacing": [0.143, 0.15]}, (0.143, 0.15)),
        ({"ImagerPixelSpacing": [0.2, 0.2]}, (0.2, 0.2)),  # DX without calibration: detector spacing
        ({"PixelSpacing": [0.1, 0.1], "ImagerPixelSpacing": [0.2, 0.2]}, (0.1, 0.1)),
        ({"PixelSpacing": [0, 0], "ImagerPixelSpacing": [0.2, 0.2]}, (0.2, 0.2)),
        ({"PixelSpacing": [0.1]}, None),
        ({}, None),
    ],
)
def test_pixel_spacing(dicom_factory, elements, expected):
    assert _tags(dicom_factory, **elements).pixel_spacing_mm == expected


@pytest.mark.parametrize(
    ("name", "removed", "has_name", "identity_removed"),
    [
        ("", "YES", False, True),
        ("^^^^", "YES", False, True),
        ("Doe^Jane", "NO", True, False),
        ("Doe^Jane", None, True, None),
        ("", "MAYBE", False, None),
    ],
)
def test_identity_flags(dicom_factory, name, removed, has_name, identity_removed):
    tags = _tags(dicom_factory, PatientName=name, PatientIdentityRemoved=removed)
    assert tags.has_patient_name is has_name
    assert tags.patient_identity_removed is identity_removed


def test_descriptive_fields_are_copied(dicom_factory):
    tags = _tags(
        dicom_factory,
        Modality="DX",
        BodyPartExamined="HAND",
        ViewPosition="PA",
        Laterality="L",
        ImageLaterality="R",
        PatientID="PSEUDO-42",
    )
    assert (tags.modality, tags.body_part_examined, tags.view_position) == ("DX", "HAND", "PA")
    assert tags.image_laterality == "R"  # the image's own laterality wins over the series'
    assert tags.patient_id == "PSEUDO-42"
    assert tags.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert (tags.rows, tags.columns, tags.bits_stored) == (8, 8, 12)


def test_bare_data_set_records_the_encoding_it_was_read_with(dicom_factory):
    result = decode_radiograph(dicom_factory(PIXELS, part10=False, BitsStored=12))
    assert result.tags.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert result.pixels.shape == (8, 8)
