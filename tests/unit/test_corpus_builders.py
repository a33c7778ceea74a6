"""The test corpus builders of tests/support: data set discovery, DICOM files rebuilt from the UNIFESP
PNGs in every offered transfer syntax, and the bad-input corpus with its expected reasons."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from libjpeg import decode as libjpeg_decode
from PIL import Image
from pydicom.uid import JPEGBaseline8Bit
from samx_core.imaging import RadiographRejected, check_usable, decode_radiograph
from samx_core.radiograph import RejectReason, SourceFormat

from tests.support.bad_inputs import POLICY_REASONS, USABILITY_REASONS, bad_radiograph_corpus
from tests.support.datasets import (
    DatasetsMissing,
    UnifespImage,
    load_unifesp_labels,
    shared_datasets_dir,
)
from tests.support.dicom_from_png import ENCODABLE_TRANSFER_SYNTAXES, build_dicom_from_png
from tests.support.jpeg_lossless import encode_jpeg_lossless_sv1

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def unifesp() -> list[UnifespImage]:
    try:
        return load_unifesp_labels()
    except DatasetsMissing as missing:
        pytest.skip(str(missing))


def test_shared_datasets_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SAMX_DATASETS", str(tmp_path))
    assert shared_datasets_dir() == tmp_path
    monkeypatch.setenv("SAMX_DATASETS", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetsMissing, match="SAMX_DATASETS"):
        shared_datasets_dir()


def test_unifesp_labels_and_headers_are_joined(unifesp):
    labeled = [image for image in unifesp if image.is_labeled]
    assert (len(unifesp), len(labeled)) == (1797, 1054)
    assert all(image.dicom_tags for image in labeled)
    assert {label for image in labeled for label in image.labels} <= {
        "abdomen",
        "ankle",
        "cervical_spine",
        "chest",
        "clavicles",
        "elbow",
        "foot",
        "finger",
        "forearm",
        "hand",
        "hip",
        "knee",
        "lower_leg",
        "lumbar_spine",
        "other",
        "pelvis",
        "shoulder",
        "sinus",
        "skull",
        "thigh",
        "thoracic_spine",
        "wrist",
    }
    assert any(len(image.labels) > 1 for image in labeled)
    first = labeled[0]
    assert first.path.is_file()
    assert first.dicom_tags["SOPInstanceUID"] in first.path.name


@pytest.mark.parametrize("monochrome1", [False, True], ids=["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize("syntax", ENCODABLE_TRANSFER_SYNTAXES, ids=lambda uid: uid.keyword)
def test_dicom_from_png_decodes_back_to_the_png(unifesp, syntax, monochrome1):
    image = next(image for image in unifesp if image.is_labeled)
    data = build_dicom_from_png(image.path, image.dicom_tags, transfer_syntax=syntax, monochrome1=monochrome1)

    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.file_meta.TransferSyntaxUID == syntax
    assert ds.PhotometricInterpretation == ("MONOCHROME1" if monochrome1 else "MONOCHROME2")
    decoded, png = decode_radiograph(data), decode_radiograph(image.path.read_bytes())
    assert decoded.source_format is SourceFormat.DICOM
    assert decoded.pixels.dtype == np.uint8
    difference = np.abs(decoded.pixels.astype(np.int16) - png.pixels.astype(np.int16))
    if syntax == JPEGBaseline8Bit:
        assert difference.mean() < 1.5
        assert ds.LossyImageCompression == "01"
    else:
        assert difference.max() == 0


def test_dicom_from_png_carries_the_real_pseudonymized_header(unifesp):
    image = next(image for image in unifesp if image.dicom_tags.get("KVP"))
    row = image.dicom_tags
    tags = decode_radiograph(build_dicom_from_png(image.path, row)).tags
    ds = pydicom.dcmread(io.BytesIO(build_dicom_from_png(image.path, row)), stop_before_pixels=True)

    assert (tags.sop_instance_uid, tags.study_instance_uid, tags.series_instance_uid, tags.patient_id) == (
        row["SOPInstanceUID"],
        row["StudyInstanceUID"],
        row["SeriesInstanceUID"],
        row["PatientID"],
    )
    assert tags.modality == row["Modality"]
    assert ds.SOPClassUID == row["SOPClassUID"]
    assert tags.patient_identity_removed is True
    assert tags.has_patient_name is False
    assert float(ds.KVP) == float(row["KVP"])
    assert "UNIFESP" in ds.DerivationDescription
    assert "reconstruction" in ds.ImageComments.lower()
    assert list(ds.ImageType)[0] == "DERIVED"
    assert ds.BitsStored == 8


def test_pixel_spacing_is_scaled_by_the_downsizing(unifesp):
    image = next(image for image in unifesp if image.dicom_tags.get("PixelSpacing") == "0.1")
    rows, columns = int(image.dicom_tags["Rows"]), int(image.dicom_tags["Columns"])
    with Image.open(image.path) as png:
        scale = max(rows, columns) / max(png.size)
    spacing = decode_radiograph(build_dicom_from_png(image.path, image.dicom_tags)).tags.pixel_spacing_mm
    assert spacing == pytest.approx((0.1 * scale, 0.1 * scale), rel=1e-4)
    assert spacing[0] > 0.1  # a PNG pixel covers several detector pixels


def test_dicom_from_png_refuses_syntaxes_it_cannot_write(unifesp):
    image = unifesp[0]
    with pytest.raises(ValueError, match="cannot encode"):
        build_dicom_from_png(image.path, image.dicom_tags, transfer_syntax="1.2.840.10008.1.2.4.80")


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (64, 48)])
def test_jpeg_lossless_encoder_is_lossless_for_any_content(shape):
    rng = np.random.default_rng(sum(shape))
    for pixels in (
        rng.integers(0, 256, shape, dtype=np.uint8),
        np.full(shape, 255, np.uint8),
        np.zeros(shape, np.uint8),
    ):
        np.testing.assert_array_equal(libjpeg_decode(encode_jpeg_lossless_sv1(pixels)), pixels)


def test_bad_corpus_gives_each_expected_reason(tmp_path):
    corpus = bad_radiograph_corpus(tmp_path)
    names = [name for name, _data, _reason in corpus]
    assert len(names) == len(set(names))
    assert {reason for _n, _d, reason in corpus} >= set(RejectReason) - {
        RejectReason.TOO_LARGE,
        RejectReason.CHECKSUM_MISMATCH,
        RejectReason.OBJECT_MISSING,
        RejectReason.IDENTIFYING_DATA,  # the `reject` policy's only, not the default's (test_pipeline)
        RejectReason.DEIDENTIFICATION_FAILED,  # no real header known to provoke it (test_deidentify)
    }
    assert len(list(tmp_path.iterdir())) == len(corpus)
    for name, data, expected in corpus:
        if expected in POLICY_REASONS:  # decodes; the ingest policy refuses it from the tags
            tags = decode_radiograph(data).tags
            if expected is RejectReason.MODALITY_NOT_ALLOWED:
                assert tags.modality not in ("CR", "DX"), name
            else:
                assert tags.burned_in_annotation is True, name
            continue
        with pytest.raises(RadiographRejected) as rejected:
            _decode_and_check(data, expected in USABILITY_REASONS)
        assert rejected.value.reason is expected, name


def _decode_and_check(data: bytes, check: bool) -> None:
    """Decodes; with ``check``, also what ingest and serving check next (too small, blank)."""
    decoded = decode_radiograph(data)
    if check:
        check_usable(decoded.pixels, min_side_px=32)
