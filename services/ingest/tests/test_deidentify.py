"""The de-identification profile on a real CR whose header carries every attribute the profile names."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from samx_core.imaging import decode_radiograph
from samx_ingest.deidentify import EMPTIED, REMOVED, DeidentificationFailed, Deidentifier

from tests.support.identifying_dicom import PSEUDONYMIZED, identifying_dicom

SECRET = b"a test secret of enough length"


def _textual(planted: dict[str, str]) -> dict[str, str]:
    """Values that cannot occur by chance in other bytes: the ones with letters in them."""
    return {k: v for k, v in planted.items() if sum(c.isalpha() for c in v) >= 4}


@pytest.fixture(scope="module")
def source():
    return identifying_dicom(list(REMOVED + EMPTIED))


def test_no_planted_value_survives_anywhere_in_the_file(source):
    out = Deidentifier(SECRET)(source.data).data
    text = _textual(source.planted)
    assert len(text) > 80  # the corpus plants what it says it does
    survivors = {k: v for k, v in text.items() if v.encode() in out or v.upper().encode() in out}
    assert survivors == {}
    ds = pydicom.dcmread(io.BytesIO(out))
    assert [k for k in REMOVED if k in ds] == []
    assert all(ds[k].value in ("", None) for k in EMPTIED if k in ds)
    for keyword in PSEUDONYMIZED:  # dates are shifted, IDs and names replaced, none kept as they were
        if keyword in ds and ds[keyword].value:
            assert str(ds[keyword].value) != source.planted[keyword], keyword
    assert not any(element.tag.is_private for element in ds)
    assert (ds.PatientIdentityRemoved, ds.DeidentificationMethodCodeSequence[0].CodeValue) == ("YES", "113100")


def test_pseudonyms_are_consistent_per_secret_and_keep_the_pixels(source):
    again = identifying_dicom([], seed="b")  # the same patient's other radiograph
    first, second = Deidentifier(SECRET)(source.data).data, Deidentifier(SECRET)(again.data).data
    a, b = (pydicom.dcmread(io.BytesIO(x)) for x in (first, second))
    assert a.PatientID == b.PatientID != source.patient_id  # the patient-wise split still groups them
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert Deidentifier(SECRET)(source.data).data == first  # re-sends map to the same instance
    other_key = pydicom.dcmread(io.BytesIO(Deidentifier(b"another secret, also long enough")(source.data).data))
    assert other_key.PatientID != a.PatientID and other_key.SOPInstanceUID != a.SOPInstanceUID
    before, after = decode_radiograph(source.data), decode_radiograph(first)
    assert np.array_equal(before.pixels, after.pixels)
    assert after.tags.patient_id == a.PatientID and after.tags.patient_identity_removed is True


def test_burned_in_text_is_reported_and_not_claimed_removed():
    ds = pydicom.dcmread(io.BytesIO(identifying_dicom([]).data))
    ds.BurnedInAnnotation = "YES"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    result = Deidentifier(SECRET)(buffer.getvalue())
    assert result.burned_in_annotation is True
    assert pydicom.dcmread(io.BytesIO(result.data)).PatientIdentityRemoved == "NO"


def test_a_malformed_date_is_removed_rather_than_costing_the_radiograph():
    ds = pydicom.dcmread(io.BytesIO(identifying_dicom([]).data))
    ds.StudyDate = "notadate"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    out = pydicom.dcmread(io.BytesIO(Deidentifier(SECRET)(buffer.getvalue()).data))
    assert "StudyDate" not in out and out.SeriesDate and out.PatientIdentityRemoved == "YES"


def test_short_secrets_and_unreadable_headers_are_refused():
    with pytest.raises(ValueError, match="16 bytes"):
        Deidentifier(b"short")
    with pytest.raises(DeidentificationFailed) as failure:
        Deidentifier(SECRET)(b"DICM" * 8)
    assert "(" in str(failure.value)


def test_a_bare_data_set_is_de_identified_and_stored_as_part_10():
    """Ingest accepts DICOM data sets without the Part 10 header; the stored file gets one."""
    import pydicom.filewriter
    from pydicom.filebase import DicomBytesIO

    ds = pydicom.dcmread(io.BytesIO(identifying_dicom([]).data))
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    pydicom.filewriter.write_dataset(buffer, ds)
    bare = buffer.getvalue()
    assert bare[128:132] != b"DICM"
    out = Deidentifier(SECRET)(bare).data
    assert out[128:132] == b"DICM"
    decoded = decode_radiograph(out)
    assert decoded.tags.patient_identity_removed is True and decoded.tags.patient_id != "MRN-20261201-4711"
    assert np.array_equal(decoded.pixels, decode_radiograph(bare).pixels)
