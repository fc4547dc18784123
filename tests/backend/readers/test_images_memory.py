"""Tests for readers/images.py's memory: huge pictures of every mode load in bounded memory, in bands."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from image_files import noise, png_chunk, png_file, write_solid_grey_png
from PIL import Image

from img23d_backend.readers import images
from img23d_backend.readers.images import MAX_SIDE
from testdata import SOURCE_PYTHONPATH

# The child's own peak resident set. Not ru_maxrss alone: on Linux it keeps the high-water mark
# of the memory the child had before exec, which is the parent's (fork and vfork share it), so
# with a pytest process of 1.7 GB (numpy 2 and the whole suite loaded) a 0.5 GB load read 1.7 GB.
# VmHWM is the peak of the child's own address space, which exec starts afresh.
_PEAK_MIB = """
import resource, sys

def peak_mib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes there, KiB on Linux
"""

_LOAD_IN_CHILD = _PEAK_MIB + """
import json
from img23d_backend.readers.images import load_image
loaded = load_image(sys.argv[1])
print(json.dumps({"size": loaded.size, "original_size": loaded.original_size, "scale": loaded.scale,
                  "mode": loaded.image.mode, "has_alpha": loaded.has_alpha,
                  "pixel": loaded.image.getpixel((loaded.size[0] // 2, loaded.size[1] // 3)),
                  "peak_mib": peak_mib()}))
"""


def test_20000_pixel_square_is_downscaled_in_bounded_memory(tmp_path):
    path = tmp_path / "poster.png"
    write_solid_grey_png(path, 20000, 20000, 77)
    assert path.stat().st_size < 4 << 20
    # In a child process so that its peak memory is its own: 400 MB of grey pixels must not
    # become 1.2 GB of RGB at full size before the downscale (that took 2.3 GB and 15 s).
    env = dict(os.environ, PYTHONPATH=SOURCE_PYTHONPATH)
    proc = subprocess.run([sys.executable, "-c", _LOAD_IN_CHILD, str(path)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert tuple(result["original_size"]) == (20000, 20000)
    assert tuple(result["size"]) == (MAX_SIDE, MAX_SIDE)
    assert result["scale"] == MAX_SIDE / 20000
    assert result["mode"] == "RGB" and not result["has_alpha"]
    assert tuple(result["pixel"]) == (77, 77, 77)
    assert result["peak_mib"] < 1500


# --- big images shrink in bands: the same pixels as converting the whole, a fraction of the memory ---

def _reference(image: Image.Image, max_side: int) -> Image.Image:
    """Convert the whole image, then reduce and resize it as _shrink_to_8_bit does in bands."""
    import math

    whole = images._to_8_bit(image, images._grey_levels(image))
    longest = max(image.size)
    factor = max_side / longest
    size = (max(1, round(image.size[0] * factor)), max(1, round(image.size[1] * factor)))
    return images._rgb(whole.reduce(math.ceil(longest / (2 * max_side))).resize(size, Image.Resampling.LANCZOS))


def _odd_modes() -> dict[str, Image.Image]:
    rgb = Image.fromarray(noise(301, 203, 3))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=7)
    palette.info["transparency"] = 2
    return {
        "P+transparency": palette, "P": rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=7),
        "1": rgb.convert("1"), "CMYK": rgb.convert("CMYK"), "LA": rgb.convert("LA"),
        "I;16": Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257),
        "I": Image.fromarray(np.asarray(rgb.convert("L")).astype(np.int32) * 200, "I"),
        "F": Image.fromarray(np.asarray(rgb.convert("L")).astype(np.float32) / 7.0 - 3, "F"),
        "RGB": rgb, "YCbCr": rgb.convert("YCbCr"),
    }


@pytest.mark.parametrize("mode", list(_odd_modes()))
def test_shrinking_in_bands_gives_the_pixels_of_the_whole(mode: str, monkeypatch) -> None:
    image = _odd_modes()[mode]
    monkeypatch.setattr(images, "BAND_PIXELS", 301 * 7)  # many bands, none a multiple of the image
    banded = images._shrink_to_8_bit(image, 40)
    expected = _reference(image, 40)
    assert banded.mode == expected.mode and banded.size == expected.size == (40, 27)
    assert np.array_equal(np.asarray(banded), np.asarray(expected))


def test_float_images_take_their_range_from_every_band(monkeypatch) -> None:
    values = np.zeros((64, 32), dtype=np.float32)
    values[:8] = -5.0          # the minimum lives in the first band only
    values[-8:] = 11.0         # the maximum in the last
    values[20, 3] = np.nan
    monkeypatch.setattr(images, "BAND_PIXELS", 32 * 8)
    assert images._grey_levels(Image.fromarray(values, "F")) == (-5.0, 11.0)


# Huge files of every awkward kind, written cheaply (streamed PNG rows, a sparse TIFF), loaded in a
# child process so that its peak memory is the load's own. Before, each was converted at full size
# first (16-bit through a float64 copy), and any file was read whole into memory (a 4 GB file that
# is not an image took 4.1 GB; a PNG whose first chunk claims 4 GB, 8 GB).

def _palette_png(path: Path, side: int) -> None:
    # Three stripes: transparent red, blue, green (a palette with a tRNS chunk).
    row = b"\x00" + bytes([0]) * (side // 4) + bytes([1]) * (side // 2) + bytes([2]) * (side - side // 4 - side // 2)
    png_file(path, side, side, 8, 3, row, png_chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255, 0, 255, 0]))
         + png_chunk(b"tRNS", bytes([0, 255, 255])))


def _sparse_cmyk_tiff(path: Path, side: int) -> None:
    """An uncompressed single-strip CMYK TIFF whose pixels are a sparse hole: all white, no disk."""
    offset, size = 4096, side * side * 4
    entries = [(256, 4, side), (257, 4, side), (258, 3, 8), (259, 3, 1), (262, 3, 5), (273, 4, offset),
               (277, 3, 4), (278, 4, side), (279, 4, size), (284, 3, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
        for tag, kind, value in entries) + struct.pack("<I", 0)
    with open(path, "wb") as handle:
        handle.write(b"II*\x00" + struct.pack("<I", 8) + ifd)
        handle.truncate(offset + size)


_PEAK_OF_LOADS = _PEAK_MIB + """
import json
from img23d_backend.readers.images import load_image
from img23d_protocol import ProtocolError
results = []
for path in sys.argv[1:]:
    try:
        loaded = load_image(path)
        results.append({"size": loaded.size, "mode": loaded.image.mode, "has_alpha": loaded.has_alpha,
                        "pixel": loaded.image.getpixel((loaded.size[0] // 2, loaded.size[1] // 2))})
    except ProtocolError as exc:
        results.append({"code": exc.code.value, "message": exc.message})
print(json.dumps({"results": results, "peak_mib": peak_mib()}))
"""


def _load_in_child(*paths: Path) -> tuple[list[dict], float]:
    env = dict(os.environ, PYTHONPATH=SOURCE_PYTHONPATH)
    proc = subprocess.run([sys.executable, "-c", _PEAK_OF_LOADS, *map(str, paths)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    return result["results"], result["peak_mib"]


MIB = 1 << 20


@pytest.mark.parametrize("kind, side, stored_bytes_per_pixel", [
    ("palette", 10000, 1), ("grey16", 8000, 2), ("bit1", 12000, 1), ("cmyk", 9000, 4),
])
def test_huge_images_of_every_mode_load_in_bounded_memory(tmp_path: Path, kind: str, side: int,
                                                          stored_bytes_per_pixel: int) -> None:
    path = tmp_path / f"{kind}.{'tif' if kind == 'cmyk' else 'png'}"
    if kind == "palette":
        _palette_png(path, side)
    elif kind == "grey16":
        png_file(path, side, side, 16, 0, b"\x00" + (40000).to_bytes(2, "big") * side)
    elif kind == "bit1":
        png_file(path, side, side, 1, 0, b"\x00" + b"\xaa" * ((side + 7) // 8))
    else:
        _sparse_cmyk_tiff(path, side)
    [result], peak_mib = _load_in_child(path)
    assert tuple(result["size"]) == (MAX_SIDE, MAX_SIDE), result
    expected = {"palette": ("RGBA", True, [0, 0, 255, 255]), "grey16": ("RGB", False, [156, 156, 156]),
                "bit1": ("RGB", False, None), "cmyk": ("RGB", False, [255, 255, 255])}[kind]
    assert (result["mode"], result["has_alpha"]) == expected[:2]
    if expected[2] is not None:
        assert result["pixel"] == expected[2]
    else:  # alternating black and white columns average to mid grey
        assert all(abs(v - 128) <= 2 for v in result["pixel"])
    # The decoded pixels, plus at most 500 MiB for the rest: the interpreter (~45), the reduced
    # image (at most 8192^2 RGBA), Lanczos's intermediate and result, the alpha check. Measured
    # here: palette 476, grey16 342, bit1 258, cmyk 570 MiB; before: 1119, 1749, 979, 1278.
    decoded_mib = side * side * stored_bytes_per_pixel / MIB
    assert peak_mib < decoded_mib + 500, f"{kind}: {peak_mib:.0f} MiB for {decoded_mib:.0f} MiB of pixels"


def test_files_that_are_not_images_are_refused_before_they_are_read(tmp_path: Path) -> None:
    """4 GB each, sparse (no disk used): random bytes, a JPEG start, a PNG whose first chunk claims 4 GB."""
    random_bytes, jpeg_start, png_claim = tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "c.png"
    random_bytes.write_bytes(os.urandom(64))
    jpeg_start.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 60)
    png_claim.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 0xFFFFFFF0) + b"IHDR")
    for path in (random_bytes, jpeg_start, png_claim):
        with open(path, "r+b") as handle:
            handle.truncate(4 << 30)
    results, peak_mib = _load_in_child(random_bytes, jpeg_start, png_claim)
    assert [r.get("code") for r in results] == ["image_unreadable"] * 3, results
    assert peak_mib < 250, f"{peak_mib:.0f} MiB to refuse three files that are not images"


