"""A PNG whose pixel data ends cleanly before its last row is refused (Pillow fills such rows with black)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from image_files import png_chunk, unreadable
from img23d_backend.readers.images import load_image
from img23d_backend.readers.png_data import missing_pixel_data, needed_bytes

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _adam7_png(path: Path, width: int, height: int, depth: int, colour_type: int, keep: float = 1.0) -> None:
    """An interlaced PNG whose samples are all ones (white), each pass's rows written out pixel by pixel;
    ``keep`` < 1 cuts the pixel data short, cleanly (the zlib stream ends)."""
    bits = CHANNELS[colour_type] * depth
    rows = []
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        columns = len(range(x0, width, dx))
        if columns:
            rows += [b"\x00" + b"\xff" * ((columns * bits + 7) // 8) for _ in range(y0, height, dy)]
    data = b"".join(rows)
    data = data[:int(len(data) * keep)]
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 1)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(data))
                     + png_chunk(b"IEND", b""))


def _rgb_png(path: Path, width: int, height: int, rows: int) -> Path:
    """A grey-on-RGB PNG whose header says ``height`` rows and whose pixel data holds ``rows`` of them."""
    data = (b"\x00" + b"\xc8" * width * 3) * rows
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(data))
                     + png_chunk(b"IEND", b""))
    return path


def test_a_png_cut_short_cleanly_is_refused_with_how_far_it_got(tmp_path):
    path = _rgb_png(tmp_path / "half.png", 64, 64, rows=32)
    with Image.open(path) as opened:   # what Pillow alone does: loads it, the missing half black
        opened.load()
        assert np.asarray(opened)[-1].max() == 0
    error = unreadable(path)
    assert error.message == ("half.png is cut short: its pixel data ends 50% of the way through the picture "
                             "(damaged or incomplete file?)")
    assert load_image(_rgb_png(tmp_path / "whole.png", 64, 64, rows=64)).size == (64, 64)


@pytest.mark.parametrize("depth, colour_type", [(8, 2), (8, 6), (16, 2), (1, 0), (4, 0), (8, 4), (16, 0)])
@pytest.mark.parametrize("size", [(37, 23), (1, 20), (20, 1), (8, 8), (3, 5)])
def test_interlaced_pngs_are_whole_or_cut_short(tmp_path, depth, colour_type, size):
    whole, cut = tmp_path / "whole.png", tmp_path / "cut.png"
    _adam7_png(whole, *size, depth, colour_type)
    _adam7_png(cut, *size, depth, colour_type, keep=0.6)
    with Image.open(whole) as opened:   # Pillow agrees every pixel came: all white
        assert np.asarray(opened.convert("L")).min() == 255
    with open(whole, "rb") as raw:
        assert missing_pixel_data(raw) is None
    with open(cut, "rb") as raw:
        short = missing_pixel_data(raw)
    assert short is not None and short.needed == needed_bytes(*size, depth, colour_type, True)
    assert short.found == int(short.needed * 0.6)


def test_pillows_own_pngs_are_whole_in_every_mode(tmp_path):
    for mode in ("1", "L", "P", "LA", "RGB", "RGBA", "I;16"):
        image = Image.new(mode, (33, 17))
        path = tmp_path / f"{mode.replace(';', '')}.png"
        image.save(path)
        with open(path, "rb") as raw:
            assert missing_pixel_data(raw) is None, mode
