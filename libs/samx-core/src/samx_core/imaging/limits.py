"""Resource limits of decoding, shared by the DICOM and raster paths.

A few kilobytes of JPEG 2000 or PNG can announce a gigapixel image; checking the announced size before
decoding keeps one hostile or broken file from exhausting a worker's memory. 64 megapixels is well
above the largest projection radiographs (stitched long-leg DX, about 7000 x 3000) and below Pillow's
own decompression-bomb warning threshold."""

from __future__ import annotations

MAX_PIXELS = 64_000_000
