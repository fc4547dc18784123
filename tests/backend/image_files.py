"""Image files made in tests: streamed PNGs of any size, noise, the checks every load passes, and the
example subject flattened onto white."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import pytest
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from img23d_backend.readers.images import MAX_SIDE, load_image
from testdata import SUBJECT


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def grey_png_header(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))


def write_solid_grey_png(path: Path, width: int, height: int, value: int) -> None:
    """An 8-bit grey PNG of one colour, streamed: a huge image without a huge buffer here."""
    compressor = zlib.compressobj(1)
    row = b"\x00" + bytes([value]) * width          # filter type 0, then the pixels
    rows_per_block = 256
    parts = []
    full, rest = divmod(height, rows_per_block)
    block = row * rows_per_block
    for _ in range(full):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(row * rest))
    parts.append(compressor.flush())
    path.write_bytes(grey_png_header(width, height) + png_chunk(b"IDAT", b"".join(parts))
                     + png_chunk(b"IEND", b""))


def stored(path: Path) -> tuple[str, tuple[int, int]]:
    """Mode and size of the file as stored, read with the file closed again."""
    with Image.open(path) as image:
        return image.mode, image.size


def unreadable(path: Path, **kwargs) -> ProtocolError:
    with pytest.raises(ProtocolError) as excinfo:
        load_image(path, **kwargs)
    assert excinfo.value.code == ErrorCode.IMAGE_UNREADABLE
    return excinfo.value


def noise(width: int, height: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def assert_normal_form(loaded) -> None:
    assert loaded.image.mode in ("RGB", "RGBA")
    assert np.asarray(loaded.image).dtype == np.uint8
    assert loaded.has_alpha == (loaded.image.mode == "RGBA")
    assert max(loaded.size) <= MAX_SIDE


def png_file(path: Path, width: int, height: int, depth: int, colour_type: int, row: bytes, extra: bytes = b"") -> None:
    """A PNG of one repeated row, any depth and colour type, streamed."""
    compressor = zlib.compressobj(1)
    block = row * 256
    full, rest = divmod(height, 256)
    parts = [compressor.compress(block) for _ in range(full)] + [compressor.compress(row * rest), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + extra
                     + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b""))


def picture_without_alpha(folder: Path) -> Path:
    """The snowman flattened onto white: a plain RGB file, so matting has to cut it out."""
    source = Image.open(SUBJECT).convert("RGBA")
    flat = Image.new("RGB", source.size, (255, 255, 255))
    flat.paste(source, mask=source.getchannel("A"))
    path = folder / "snowman_rgb.png"
    flat.save(path)
    assert Image.open(path).mode == "RGB"
    return path


T = TypeVar("T")
FIFO_DEADLINE = 20.0   # seconds: reading a FIFO's name must answer at once, not wait for a writer


def read_from_a_fifo(path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)`` for a FIFO made at ``path``, on a thread that must answer within ``FIFO_DEADLINE``: a read
    that waits for a writer fails the test (a writer is opened then, so the thread ends)."""
    os.mkfifo(path)
    answers: list[T] = []
    reader = threading.Thread(target=lambda: answers.append(read(path)), daemon=True)
    reader.start()
    reader.join(FIFO_DEADLINE)
    if reader.is_alive():
        with open(path, "wb"):  # a writer lets the waiting open return, so the thread ends
            pass
        pytest.fail(f"reading a FIFO waited for a writer for {FIFO_DEADLINE:g} s")
    assert answers, "the read on the FIFO raised"
    return answers[0]

