"""The pixel side of ingest: bytes in (DICOM, PNG, JPEG), display pixels and header tags out, and the
PNG derivatives SAM-X stores and trains on."""

from samx_core.imaging.decode import DecodedRadiograph, decode_radiograph
from samx_core.imaging.derivatives import encode_derivative_png, encode_thumbnail_png, load_derivative
from samx_core.imaging.errors import InputRejected, RadiographRejected
from samx_core.imaging.model_input import to_uint8_square
from samx_core.imaging.usable import check_usable

__all__ = [
    "DecodedRadiograph",
    "InputRejected",
    "RadiographRejected",
    "check_usable",
    "decode_radiograph",
    "encode_derivative_png",
    "encode_thumbnail_png",
    "load_derivative",
    "to_uint8_square",
]
