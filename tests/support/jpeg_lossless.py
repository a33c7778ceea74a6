"""A minimal JPEG Lossless (ITU-T T.81 process 14, selection value 1) encoder for 8-bit grey images.

Why it exists: it is the transfer syntax most CR/DX archives actually send (1.2.840.10008.1.2.4.70),
and neither pydicom nor Pillow can encode it, while pylibjpeg-libjpeg decodes it. Test corpora need
it, production code never does. Vectorised with numpy: a 512 x 512 image encodes in tens of ms.

Stream: SOI, SOF3, DHT (the T.81 K.3 luminance DC table, enough for 8-bit differences), SOS, entropy
coded differences, EOI. Prediction (T.81 H.1.2.1): the first sample from 2**(P-1), the rest of the first
row from the left neighbour, the first sample of every other row from the one above, all others from
the left neighbour (selection value 1)."""

from __future__ import annotations

import struct

import numpy as np

# T.81 table K.3: number of codes of each length 1..16, then the categories in code order.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))


def _huffman_codes() -> tuple[np.ndarray, np.ndarray]:
    """Canonical codes (T.81 C.2) of the table: code and length per category 0..11."""
    codes, lengths = np.zeros(12, np.uint32), np.zeros(12, np.uint32)
    code, index = 0, 0
    for length, count in enumerate(_DC_BITS, start=1):
        for _ in range(count):
            category = _DC_VALUES[index]
            codes[category], lengths[category] = code, length
            code, index = code + 1, index + 1
        code <<= 1
    return codes, lengths


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def encode_jpeg_lossless_sv1(pixels: np.ndarray) -> bytes:
    """2-D uint8 array -> a JPEG Lossless SV1 code stream (one component, point transform 0)."""
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError("expects a 2-D uint8 image")
    rows, columns = pixels.shape
    samples = pixels.astype(np.int32)
    prediction = np.empty_like(samples)
    prediction[0, 0] = 128
    prediction[0, 1:] = samples[0, :-1]
    prediction[1:, 0] = samples[:-1, 0]
    prediction[1:, 1:] = samples[1:, :-1]
    diff = (samples - prediction).ravel()  # within -255..255 for 8-bit samples

    category = np.zeros(diff.shape, np.uint32)  # SSSS: the bit length of |diff|
    nonzero = diff != 0
    category[nonzero] = np.floor(np.log2(np.abs(diff[nonzero]))).astype(np.uint32) + 1
    extra = np.where(diff < 0, diff - 1, diff).astype(np.int64) & ((1 << category.astype(np.int64)) - 1)
    codes, lengths = _huffman_codes()
    words = (codes[category].astype(np.int64) << category) | extra  # Huffman code, then SSSS bits
    widths = lengths[category] + category

    # Spread every word over its bits (most significant first), keep the valid ones, pack to bytes.
    width_max = int(widths.max())
    shifts = np.arange(width_max - 1, -1, -1, dtype=np.int64)
    bits = ((words[:, None] >> shifts) & 1).astype(np.uint8)
    valid = shifts[None, :] < widths[:, None]
    stream = bits[valid]
    padding = (-stream.size) % 8
    stream = np.concatenate([stream, np.ones(padding, np.uint8)])  # T.81 F.1.2.3: pad with 1-bits
    entropy = np.packbits(stream)
    stuffed = np.insert(entropy, np.flatnonzero(entropy == 0xFF) + 1, 0)  # byte stuffing: FF -> FF 00

    dht = bytes([0x00]) + bytes(_DC_BITS) + bytes(_DC_VALUES)
    sof3 = struct.pack(">BHHB", 8, rows, columns, 1) + bytes([1, 0x11, 0])
    sos = bytes([1, 1, 0x00, 1, 0, 0])  # one component, table 0; Ss = predictor 1, Se = 0, Ah/Al = 0
    return (
        b"\xff\xd8"
        + _segment(0xFFC3, sof3)
        + _segment(0xFFC4, dht)
        + _segment(0xFFDA, sos)
        + stuffed.tobytes()
        + b"\xff\xd9"
    )
