"""Whether a PNG's pixel data covers its whole picture.

Pillow accepts a PNG whose compressed pixel data ends cleanly before the last row (its decoder's
check is commented out: "the image and the data should end simultaneously") and leaves the rows
that never came black, so a picture cut short by a failed download or copy went into a job
without a word. ``missing_pixel_data`` inflates the file's IDAT stream once more, keeping nothing
but a count, and compares it with what the header's size, bit depth, colour type and interlacing
need (the PNG specification, sections 7 and 8: each row is one filter byte and its packed pixels;
Adam7 has seven such passes).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}   # colour type -> samples per pixel
# Adam7's passes: (first column, first row, column step, row step).
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
INFLATE_STEP = 1 << 20   # inflated bytes held at a time
MAX_CHUNK = 1 << 31      # the specification's limit on a chunk's length


@dataclass(frozen=True)
class PixelData:
    """How many inflated bytes the pixel data held, and how many the header says it needs."""

    found: int
    needed: int

    @property
    def fraction(self) -> float:
        return self.found / self.needed if self.needed else 1.0


def needed_bytes(width: int, height: int, bit_depth: int, colour_type: int, interlaced: bool) -> int:
    """The inflated size of a PNG's pixel data: each (pass's) row, its filter byte and its packed samples."""
    bits = CHANNELS.get(colour_type, 4) * bit_depth

    def rows(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + (w * bits + 7) // 8)

    if not interlaced:
        return rows(width, height)
    return sum(rows(-(-max(width - x0, 0) // dx), -(-max(height - y0, 0) // dy)) for x0, y0, dx, dy in ADAM7)


def missing_pixel_data(raw: BinaryIO) -> PixelData | None:
    """``PixelData`` when the PNG in ``raw`` (read from its start) ends its pixel data early; None when
    the data is whole, or the file is no PNG this can judge (Pillow's own checks have spoken for it)."""
    raw.seek(0)
    if raw.read(8) != SIGNATURE:
        return None
    inflater, needed, found = zlib.decompressobj(), 0, 0
    try:
        while not inflater.eof:
            head = raw.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND" or length >= MAX_CHUNK:
                break
            if kind == b"IHDR" and length >= 13:
                width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", raw.read(13))
                needed = needed_bytes(width, height, depth, colour, interlace == 1)
                length -= 13
            elif kind == b"IDAT" and needed:
                found += _inflated(inflater, raw, length)
                length = 0
            raw.seek(length + 4, 1)   # the rest of the chunk, and its CRC
    except zlib.error:
        pass   # damaged past this point: what inflated before it is what the picture has
    return PixelData(found, needed) if found < needed else None


def _inflated(inflater: "zlib._Decompress", raw: BinaryIO, length: int) -> int:
    """How many bytes the next ``length`` bytes of ``raw`` inflate to, holding at most
    ``INFLATE_STEP`` of them (in or out) at a time."""
    count = 0
    while length > 0 and not inflater.eof:
        data = raw.read(min(length, INFLATE_STEP))
        if not data:
            break
        length -= len(data)
        while data and not inflater.eof:
            count += len(inflater.decompress(data, INFLATE_STEP))
            data = inflater.unconsumed_tail
    if length > 0:
        raw.seek(length, 1)
    return count
