"""The one entry point from bytes to a radiograph SAM-X can store: ``decode_radiograph``.

It recognises the format from the bytes, decodes exactly once, and either returns display pixels with
the header tags or raises ``RadiographRejected`` with a stable reason. It makes no policy decisions
(allowed modalities, identifiable headers): those belong to the ingest service, which reads the tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samx_core.imaging.dicom import decode_dicom
from samx_core.imaging.errors import RadiographRejected
from samx_core.imaging.raster import decode_raster
from samx_core.imaging.sniff import Sniffed, sniff
from samx_core.radiograph import RadiographTags, RejectReason, SourceFormat

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class DecodedRadiograph:
    """A decoded radiograph: ``pixels`` is 2-D (rows, columns), MONOCHROME2 display values (dark is
    air), uint8 or uint16 using the type's full range; read-only, so the value can be shared."""

    pixels: np.ndarray
    source_format: SourceFormat
    tags: RadiographTags

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2 or self.pixels.dtype not in (np.uint8, np.uint16):
            raise ValueError("pixels must be a 2-D uint8 or uint16 array")
        view = self.pixels.view()
        view.flags.writeable = False
        object.__setattr__(self, "pixels", view)

    @property
    def bits(self) -> int:
        """Depth of ``pixels``: 8 or 16."""
        return self.pixels.dtype.itemsize * 8


def decode_radiograph(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> DecodedRadiograph:
    """Decodes a DICOM (Part 10 or bare data set), PNG or JPEG radiograph.

    Raises ``RadiographRejected`` (EMPTY, TOO_LARGE, NOT_AN_IMAGE, TRUNCATED, NO_PIXEL_DATA,
    UNSUPPORTED_TRANSFER_SYNTAX, MULTI_FRAME, DECODE_ERROR) for inputs that cannot become one."""
    if not data:
        raise RadiographRejected(RejectReason.EMPTY, "the file is empty")
    if len(data) > max_bytes:
        raise RadiographRejected(RejectReason.TOO_LARGE, f"{len(data)} bytes is over the {max_bytes} byte limit")
    kind = sniff(data)
    if kind in (Sniffed.DICOM_PART10, Sniffed.DICOM_RAW):
        pixels, tags = decode_dicom(data, part10=kind is Sniffed.DICOM_PART10)
        return DecodedRadiograph(pixels, SourceFormat.DICOM, tags)
    if kind in (Sniffed.PNG, Sniffed.JPEG):
        source_format = SourceFormat.PNG if kind is Sniffed.PNG else SourceFormat.JPEG
        pixels, tags = decode_raster(data, source_format)
        return DecodedRadiograph(pixels, source_format, tags)
    raise RadiographRejected(RejectReason.NOT_AN_IMAGE, "neither DICOM (Part 10 or a data set), PNG nor JPEG")
