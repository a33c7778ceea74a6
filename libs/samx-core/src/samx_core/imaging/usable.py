"""Whether decoded pixels can be a radiograph at all: big enough to show anatomy, and not uniform.

A 1 x 1 grey PNG decodes fine and, squashed to the model's input size, gets a confident region from any
classifier; it is refused here instead, by ingest and serving alike, with a reason a sender can act on.
The minimum side is a setting of each service (radiographs are hundreds to thousands of pixels wide)."""

from __future__ import annotations

import numpy as np

from samx_core.imaging.errors import RadiographRejected
from samx_core.radiograph import RejectReason


def check_usable(pixels: np.ndarray, *, min_side_px: int) -> None:
    rows, columns = pixels.shape[:2]
    if min(rows, columns) < min_side_px:
        raise RadiographRejected(
            RejectReason.TOO_SMALL,
            f"{rows} x {columns} pixels is under the {min_side_px} pixel minimum side: no anatomy to sort",
        )
    if pixels.min() == pixels.max():
        raise RadiographRejected(RejectReason.UNIFORM, "every pixel has the same value: there is no image in it")
