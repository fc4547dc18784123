"""An image's width, height and bit depth from its header alone: PNG, JPEG and WebP, never decoded.

What Blender would hold once it looks at an image grows with its pixels, not its file: a 16384 x
16384 PNG of one colour is a few hundred kilobytes on disk and over a gigabyte in Blender. So the
size is read before anything is imported (``texture_guard``), from the bytes that say it:

- PNG: the IHDR chunk, which must come first (width, height: 4 bytes each, big-endian; then the
  bit depth of a sample: 1, 2, 4, 8 or 16);
- JPEG: the first start-of-frame marker (SOF0 to SOF15 but DHT, JPG and DAC), found by walking the
  segments before it by their lengths (seeking, not reading, past them; at most ``MAX_SEGMENTS``);
  its precision (8 bits; 12 or 16 in the extended and lossless processes) is its bit depth;
- WebP: the first chunk after the RIFF header: ``VP8 `` (a lossy key frame), ``VP8L`` (lossless) or
  ``VP8X`` (the extended format's canvas), the three Blender's importer reads; always 8 bits.

The bit depth matters as much as the size: Blender holds an image of 8 bits or fewer a sample as 4
bytes a pixel (byte RGBA) and one of more (a 16-bit PNG, a 12-bit JPEG) as float RGBA, 16 bytes a
pixel (``ImageSize.held_bytes``).

Anything else, or a header cut short, is refused (``UnreadableImage``, a phrase the caller puts
in its sentence): an image whose size cannot be read is not imported. Standard library only; no
bpy here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_START = b"\xff\xd8"
MAX_SEGMENTS = 4096         # JPEG segments walked before its frame header: real files have a handful
# Start-of-frame markers: 0xC0..0xCF except DHT (C4), JPG (C8) and DAC (CC), which are not frames.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}   # RSTn and TEM: markers with no length
_START_OF_SCAN, _END_OF_IMAGE = 0xDA, 0xD9
BYTE_PIXEL, FLOAT_PIXEL = 4, 16     # what Blender holds a pixel as: byte RGBA, or float RGBA above 8 bits


class UnreadableImage(Exception):
    """The bytes hold no image size this module can read; the message says why, as a phrase."""


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int
    format: str             # "PNG", "JPEG" or "WebP"
    bits: int = 8           # a sample's bit depth, as the header says

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def held_bytes(self) -> int:
        """What Blender holds once it loads the image: byte RGBA to 8 bits, float RGBA above."""
        return self.pixels * (FLOAT_PIXEL if self.bits > 8 else BYTE_PIXEL)

    def __str__(self) -> str:
        return f"{self.width:,} x {self.height:,} pixels of {self.bits}-bit colour"


class Window:
    """``length`` bytes of ``handle`` from ``start``: the only bytes an image may be read from
    (a GLB's buffer view, a whole file). Reading past its end is refused, never done."""

    def __init__(self, handle: BinaryIO, start: int, length: int) -> None:
        self.handle, self.start, self.length = handle, start, length

    def read(self, offset: int, count: int) -> bytes:
        """Exactly ``count`` bytes at ``offset`` within the window."""
        if offset < 0 or offset + count > self.length:
            raise UnreadableImage("its header is cut short")
        self.handle.seek(self.start + offset)
        data = self.handle.read(count)
        if len(data) != count:
            raise UnreadableImage("its header is cut short")
        return data


def image_size(window: Window) -> ImageSize:
    """The size the image in ``window`` says it has, by its first bytes' format."""
    head = window.read(0, min(window.length, 16)) if window.length > 0 else b""
    if head.startswith(PNG_SIGNATURE):
        return _png(window)
    if head.startswith(JPEG_START):
        return _jpeg(window)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp(window)
    raise UnreadableImage("it is neither a PNG, a JPEG nor a WebP image")


def _checked(width: int, height: int, kind: str, bits: int = 8) -> ImageSize:
    if width < 1 or height < 1:
        raise UnreadableImage(f"its {kind} header gives no size ({width} x {height})")
    return ImageSize(width, height, kind, bits)


def _png(window: Window) -> ImageSize:
    length, kind, width, height, bits = struct.unpack(">I4sIIB", window.read(8, 17))
    if kind != b"IHDR" or length != 13:
        raise UnreadableImage("its PNG header does not begin with IHDR")
    if width > 0x7FFFFFFF or height > 0x7FFFFFFF:  # the PNG specification's own limit
        raise UnreadableImage(f"its PNG header gives an impossible size ({width} x {height})")
    if bits not in (1, 2, 4, 8, 16):
        raise UnreadableImage(f"its PNG header gives an impossible bit depth ({bits})")
    return _checked(width, height, "PNG", bits)


def _jpeg(window: Window) -> ImageSize:
    offset = 2
    for _ in range(MAX_SEGMENTS):
        prefix, marker = window.read(offset, 2)
        if prefix != 0xFF:
            raise UnreadableImage("its JPEG segments are broken")
        if marker == 0xFF:  # a fill byte before the marker
            offset += 1
            continue
        offset += 2
        if marker in _STANDALONE:
            continue
        if marker in (_START_OF_SCAN, _END_OF_IMAGE):
            raise UnreadableImage("its JPEG data begins before any frame header")
        (length,) = struct.unpack(">H", window.read(offset, 2))
        if length < 2:
            raise UnreadableImage("its JPEG segments are broken")
        if marker in _SOF_MARKERS:
            precision, height, width = struct.unpack(">BHH", window.read(offset + 2, 5))
            if not 2 <= precision <= 16:
                raise UnreadableImage(f"its JPEG frame header gives an impossible precision ({precision})")
            return _checked(width, height, "JPEG", precision)
        offset += length
    raise UnreadableImage(f"its JPEG header has more than {MAX_SEGMENTS} segments before its frame")


def _webp(window: Window) -> ImageSize:
    chunk = window.read(12, 4)
    if chunk == b"VP8 ":
        frame = window.read(20, 10)
        if frame[3:6] != b"\x9d\x01\x2a":
            raise UnreadableImage("its WebP frame header is broken")
        width, height = struct.unpack("<HH", frame[6:10])
        return _checked(width & 0x3FFF, height & 0x3FFF, "WebP")
    if chunk == b"VP8L":
        data = window.read(20, 5)
        if data[0] != 0x2F:
            raise UnreadableImage("its lossless WebP header is broken")
        bits = int.from_bytes(data[1:5], "little")
        return _checked((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "WebP")
    if chunk == b"VP8X":
        canvas = window.read(24, 6)
        return _checked(int.from_bytes(canvas[0:3], "little") + 1, int.from_bytes(canvas[3:6], "little") + 1, "WebP")
    raise UnreadableImage("its WebP header names no image chunk Blender reads")
