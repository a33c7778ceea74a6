"""The one resize every model input goes through, in training and in serving alike.

Training loads the stored derivative PNG and squares it to the profile's working size; serving must do
exactly the same to a radiograph it receives, or the model sees a different distribution.

Optionally (a model records whether it was trained so) uniform frames are trimmed first: the black
letterbox of an export, a burnt-in white collimation mask. Sites differ in them, the anatomy does not,
and a stretched square of a framed radiograph shows the anatomy smaller than the model learnt it."""

from __future__ import annotations

import numpy as np
from PIL import Image

#: A frame line: at least this share of its pixels within ``_FRAME_TOLERANCE`` of the frame's value
#: (a few non-frame pixels, such as a side marker printed on the frame, do not end it).
_FRAME_SHARE = 0.95
_FRAME_TOLERANCE = 0.02  # of the full 8/16-bit range
#: Trimming that would keep less than this share of a side is not a frame but a nearly blank image.
_MIN_KEPT = 0.25
_PROBE_SIDE = 512  # frames are found on a strided view at most this big: cheap on 3000 px radiographs


def _frame_depth(lines: np.ndarray, tolerance: float, value: float | None = None) -> tuple[int, float]:
    """How many leading rows of ``lines`` (n, m) are a uniform frame of ``value`` (default: the first
    row's typical value), and that value."""
    if len(lines) == 0:
        return 0, 0.0 if value is None else value
    value = float(np.median(lines[0])) if value is None else value
    is_frame = (np.abs(lines - value) <= tolerance).mean(axis=1) >= _FRAME_SHARE
    return (int(is_frame.argmin()) if not is_frame.all() else len(lines)), value


def _sides(view: np.ndarray) -> tuple[np.ndarray, ...]:
    """The lines of ``view`` from each edge inwards: top, bottom, left, right."""
    return view, view[::-1], view.T, view.T[::-1]


def content_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """2-D pixels -> (top, bottom, left, right) of what lies inside uniform frame lines at the edges
    (the whole image when there is no frame, or when a frame would leave under a quarter of a side).
    Frames inside frames (an export's letterbox around a collimation mask) are trimmed one by one.

    The frame is found on a strided probe, then each edge is placed exactly on the full image."""
    h, w = pixels.shape
    step = max(1, -(-max(h, w) // _PROBE_SIDE))
    probe = pixels[::step, ::step].astype(np.float32)
    tolerance = _FRAME_TOLERANCE * (65535.0 if pixels.dtype == np.uint16 else 255.0)
    ph, pw = probe.shape
    box, values = [0, ph, 0, pw], [0.0] * 4
    for _ in range(4):
        view = probe[box[0] : box[1], box[2] : box[3]]
        cuts = [_frame_depth(lines, tolerance) for lines in _sides(view)]
        if not any(depth for depth, _ in cuts):
            break
        for side, (depth, value) in enumerate(cuts):
            if depth:
                box[side] += depth if side in (0, 2) else -depth
                values[side] = value
        if box[1] - box[0] < _MIN_KEPT * ph or box[3] - box[2] < _MIN_KEPT * pw:
            return 0, h, 0, w
    return _exact_edges(pixels, box, values, step, tolerance)


def _exact_edges(
    pixels: np.ndarray, box: list[int], values: list[float], step: int, tolerance: float
) -> tuple[int, int, int, int]:
    """Probe box -> full-resolution box: between the last frame line and the first content line of the
    probe lie ``step - 1`` unseen lines per edge; each is tested against that edge's frame value."""
    h, w = pixels.shape
    top, bottom, left, right = box
    full = [top * step, min(h, bottom * step) if bottom < pixels[::step].shape[0] else h,
            left * step, min(w, right * step) if right < pixels[0, ::step].shape[0] else w]  # fmt: skip
    if step == 1:
        return full[0], full[1], full[2], full[3]
    cols = slice(full[2], full[3])
    if top:
        unseen = pixels[(top - 1) * step + 1 : top * step, cols].astype(np.float32)
        full[0] = (top - 1) * step + 1 + _frame_depth(unseen, tolerance, values[0])[0]
    if full[1] < h:
        unseen = pixels[(bottom - 1) * step + 1 : bottom * step, cols].astype(np.float32)
        full[1] = bottom * step - _frame_depth(unseen[::-1], tolerance, values[1])[0]
    rows = slice(full[0], full[1])
    if left:
        unseen = pixels[rows, (left - 1) * step + 1 : left * step].astype(np.float32).T
        full[2] = (left - 1) * step + 1 + _frame_depth(unseen, tolerance, values[2])[0]
    if full[3] < w:
        unseen = pixels[rows, (right - 1) * step + 1 : right * step].astype(np.float32).T
        full[3] = right * step - _frame_depth(unseen[::-1], tolerance, values[3])[0]
    return full[0], full[1], full[2], full[3]


def to_uint8_square(pixels: np.ndarray, size: int, *, trim_frame: bool = False) -> np.ndarray:
    """2-D uint8/uint16 pixels -> (size, size) uint8, antialiased resize (the aspect ratio is not kept);
    with ``trim_frame`` the uniform frame lines at the edges are cut off first."""
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"unexpected pixel type {pixels.dtype}")
    if trim_frame:
        top, bottom, left, right = content_box(pixels)
        pixels = pixels[top:bottom, left:right]
    if pixels.dtype == np.uint16:
        pixels = np.round(pixels.astype(np.float32) / 257.0).astype(np.uint8)
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None))
