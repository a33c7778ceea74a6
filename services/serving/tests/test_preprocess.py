"""A served radiograph and a trained one get identical model inputs, and bad inputs get their 4xx."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydicom.uid import JPEG2000Lossless, RLELossless
from samx_core.imaging import decode_radiograph, encode_derivative_png, load_derivative, to_uint8_square
from samx_core.radiograph import RejectReason
from samx_ml.augment import eval_transform
from samx_serving.preprocess import InputError, decode_derivative, decode_request, to_model_input

from tests.support.bad_inputs import bad_radiograph_corpus
from tests.support.datasets import load_unifesp_dicom_tags
from tests.support.dicom_from_png import build_dicom_from_png
from tests.support.pydicom_data import pseudonymized_real_crs

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"
LOAD, SIZE = 96, 64
CR_DX = frozenset({"CR", "DX"})


def _training_input(data: bytes, trim: bool) -> torch.Tensor:
    """What phase 2 trains on: ingest stores the derivative PNG of the decoded pixels; the trainer
    (samx_trainer.phase2.archive) loads it and squares it; the eval view is ``eval_transform``."""
    derivative_png = encode_derivative_png(decode_radiograph(data))
    squared = to_uint8_square(load_derivative(derivative_png), LOAD, trim_frame=trim)
    return eval_transform(torch.from_numpy(squared)[None, None], SIZE)


def _radiographs() -> dict[str, bytes]:
    pngs = sorted((SAMPLE / "images").glob("*.png"))[:2]
    tags = load_unifesp_dicom_tags(SAMPLE)
    return {
        "png": pngs[0].read_bytes(),
        "dicom_monochrome1_j2k": build_dicom_from_png(
            pngs[1], tags[f"images/{pngs[1].name}"], transfer_syntax=JPEG2000Lossless, monochrome1=True
        ),
        "dicom_rle": build_dicom_from_png(pngs[0], tags[f"images/{pngs[0].name}"], transfer_syntax=RLELossless),
        "cr_16_bit": pseudonymized_real_crs(("RG1_UNCR",))["RG1_UNCR"],
    }


@pytest.mark.parametrize("trim", [False, True], ids=["as-is", "frame-trimmed"])
@pytest.mark.parametrize("name", ["png", "dicom_monochrome1_j2k", "dicom_rle", "cr_16_bit"])
def test_served_and_trained_inputs_are_identical(name, trim):
    data = _radiographs()[name]
    pixels = decode_request(data, max_bytes=1 << 28, allowed_modalities=CR_DX).pixels
    served = to_model_input([pixels], LOAD, SIZE, trim)
    trained = _training_input(data, trim)
    assert served.shape == trained.shape == (1, 1, SIZE, SIZE)
    assert torch.equal(served, trained)
    # The by-id path reads the archived derivative: the same tensor again.
    archived = decode_derivative(encode_derivative_png(decode_radiograph(data)), None)
    assert torch.equal(to_model_input([archived.pixels], LOAD, SIZE, trim), trained)


def test_sixteen_bit_radiographs_stay_sixteen_bit_until_the_square():
    data = pseudonymized_real_crs(("RG1_UNCR",))["RG1_UNCR"]
    assert decode_request(data, max_bytes=1 << 28, allowed_modalities=CR_DX).pixels.dtype == np.uint16


def test_bad_inputs_get_a_4xx_with_the_reason(tmp_path):
    expected = {
        RejectReason.EMPTY: 422,
        RejectReason.NOT_AN_IMAGE: 415,
        RejectReason.TRUNCATED: 422,
        RejectReason.NO_PIXEL_DATA: 422,
        RejectReason.MULTI_FRAME: 422,
        RejectReason.UNSUPPORTED_TRANSFER_SYNTAX: 415,
        RejectReason.MODALITY_NOT_ALLOWED: 422,
        RejectReason.DECODE_ERROR: 422,
        RejectReason.TOO_SMALL: 422,
        RejectReason.UNIFORM: 422,
    }
    for name, data, reason in bad_radiograph_corpus(tmp_path):
        if reason is RejectReason.BURNED_IN_ANNOTATION:
            continue  # ingest's policy: classification stores nothing, the pixels never leave the request
        with pytest.raises(InputError) as err:
            decode_request(data, max_bytes=1 << 28, allowed_modalities=CR_DX)
        assert (err.value.status, err.value.reason) == (expected[reason], reason.value), name


def test_an_oversized_body_is_413():
    with pytest.raises(InputError) as err:
        decode_request(b"\x89PNG" + b"\0" * 5000, max_bytes=4096, allowed_modalities=CR_DX)
    assert err.value.status == 413
