"""From a request's bytes (or an archived derivative) to the model's input, exactly as in training.

Training (samx_trainer.phase2.archive) loads the stored derivative PNG (``encode_derivative_png`` of the
decoded display pixels, lossless, 8 or 16-bit) and squares it with ``to_uint8_square(pixels, load_size)``,
frame trimmed when the model's manifest says ``trim_frame``; ``eval_transform`` then resizes to
``image_size`` and standardizes. Serving decodes with the same
``decode_radiograph`` and applies the same two functions, so a served radiograph and a trained one get
identical tensors (tests/test_preprocess.py proves it on real radiographs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from samx_core.imaging import RadiographRejected, check_usable, decode_radiograph, load_derivative, to_uint8_square
from samx_core.radiograph import RejectReason
from samx_ml.augment import eval_transform

# HTTP status per reason: 413 too big, 415 a format we do not read, 422 a readable file that is not a
# radiograph we can classify (empty, truncated, multi-frame, a CT slice, ...).
_STATUS = {
    RejectReason.TOO_LARGE: 413,
    RejectReason.NOT_AN_IMAGE: 415,
    RejectReason.UNSUPPORTED_TRANSFER_SYNTAX: 415,
}


class InputError(Exception):
    """A request the service refuses, with its HTTP status and a patient-free reason."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.status, self.reason, self.detail = status, reason, detail


@dataclass(frozen=True)
class RadiographInput:
    """Display pixels (2-D uint8/uint16) and the one header tag the flags use (tag_mismatch)."""

    pixels: np.ndarray
    body_part_examined: str | None


def decode_request(
    data: bytes, *, max_bytes: int, allowed_modalities: frozenset[str], min_side_px: int = 32
) -> RadiographInput:
    """Raw request body -> pixels and tags, or ``InputError`` (413/415/422) with the decoder's reason;
    images under ``min_side_px`` or of one value are 422s too (``too_small``, ``uniform``)."""
    try:
        decoded = decode_radiograph(data, max_bytes=max_bytes)
        check_usable(decoded.pixels, min_side_px=min_side_px)
    except RadiographRejected as rejected:
        raise InputError(_STATUS.get(rejected.reason, 422), rejected.reason.value, rejected.detail) from None
    modality = decoded.tags.modality
    if modality is not None and modality.upper() not in allowed_modalities:
        raise InputError(
            422,
            RejectReason.MODALITY_NOT_ALLOWED.value,
            f"modality {modality} is not a projection radiograph (allowed: {', '.join(sorted(allowed_modalities))})",
        )
    return RadiographInput(decoded.pixels, decoded.tags.body_part_examined)


def decode_derivative(png: bytes, body_part_examined: str | None) -> RadiographInput:
    """An archived derivative PNG (what training reads) -> pixels, with the body part of its record."""
    return RadiographInput(load_derivative(png), body_part_examined)


def to_model_input(pixels: list[np.ndarray], load_size: int, image_size: int, trim_frame: bool) -> torch.Tensor:
    """N display images -> (N, 1, image_size, image_size) float32, standardized per image."""
    squared = np.stack([to_uint8_square(p, load_size, trim_frame=trim_frame) for p in pixels])[:, None]
    return eval_transform(torch.from_numpy(squared), image_size)
