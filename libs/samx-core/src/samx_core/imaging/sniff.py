"""Recognising what a byte string is, from its first bytes only (file names and MIME types lie).

Radiographs reach SAM-X as DICOM Part-10 files (the 128-byte preamble and "DICM"), sometimes as bare
DICOM data sets without preamble (old archives, some C-STORE dumps), and as PNG or JPEG research
exports. Anything else is not an image for us."""

from __future__ import annotations

import struct
from enum import Enum

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"

# Explicit VR codes (PS3.5 table 6.2-1): the bytes after the first tag of an explicit-VR data set.
_VRS = frozenset(
    vr.encode()
    for vr in "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV PN SH SL SQ SS ST SV TM UC UI UL UN UR "
    "US UT UV".split()
)
# A bare data set starts with the File Meta group (0002) or, far more often, with group 0008
# (Specific Character Set, Image Type, SOP Class UID). Rarely anything else: asking for one of these
# two groups keeps text files and random bytes from being "forced" into a nonsense data set.
_FIRST_GROUPS = (0x0002, 0x0008)


class Sniffed(Enum):
    DICOM_PART10 = "dicom_part10"
    DICOM_RAW = "dicom_raw"
    PNG = "png"
    JPEG = "jpeg"
    UNKNOWN = "unknown"


def sniff(data: bytes) -> Sniffed:
    if len(data) >= 132 and data[128:132] == b"DICM":
        return Sniffed.DICOM_PART10
    if data.startswith(PNG_SIGNATURE):
        return Sniffed.PNG
    if data.startswith(JPEG_SOI):
        return Sniffed.JPEG
    if _looks_like_raw_dataset(data):
        return Sniffed.DICOM_RAW
    return Sniffed.UNKNOWN


def _looks_like_raw_dataset(data: bytes) -> bool:
    """A first element (group 0002/0008) followed by a valid explicit VR or a plausible implicit
    length, in either byte order."""
    if len(data) < 8:
        return False
    for order in "<>":
        group, element = struct.unpack(order + "HH", data[:4])
        if group not in _FIRST_GROUPS or element > 0x1FFF:
            continue
        if data[4:6] in _VRS:
            return True
        (length,) = struct.unpack(order + "I", data[4:8])
        if length <= min(len(data) - 8, 1 << 16):
            return True
    return False
