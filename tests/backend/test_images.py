"""Tests for images.py: every way a user's picture arrives, and every way it can be unusable."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backend"))

from testdata import HOUSE, PENGUIN, SOURCE_PYTHONPATH  # noqa: E402
from img23d_backend import images  # noqa: E402
from img23d_backend.images import MAX_SIDE, MIN_SIDE, load_image  # noqa: E402
from img23d_protocol import ErrorCode, ProtocolError


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _grey_png_header(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))


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
    path.write_bytes(_grey_png_header(width, height) + _png_chunk(b"IDAT", b"".join(parts))
                     + _png_chunk(b"IEND", b""))


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


# --- files that are not usable images ---------------------------------------------------------

def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "photo.png"
    error = unreadable(path)
    assert str(path) in error.message


def test_folder_is_not_a_file(tmp_path):
    folder = tmp_path / "looks_like.png"
    folder.mkdir()
    error = unreadable(folder)
    assert "looks_like.png" in error.message and "not a file" in error.message


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n" * 20)
    error = unreadable(path)
    assert "notes.png" in error.message


def test_empty_file_is_not_an_image(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    error = unreadable(path)
    assert "empty.jpg" in error.message


def test_truncated_png_is_reported_as_damaged(tmp_path):
    whole = tmp_path / "whole.png"
    Image.fromarray(noise(128, 128, 3)).save(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    error = unreadable(cut)
    assert "cut.png" in error.message and "damaged" in error.message
    assert error.detail  # Pillow's own words are kept for the log


def test_png_cut_inside_its_header_is_unreadable(tmp_path):
    path = tmp_path / "stub.png"
    Image.fromarray(noise(64, 64, 3)).save(path)
    path.write_bytes(path.read_bytes()[:20])
    error = unreadable(path)
    assert "stub.png" in error.message


@pytest.mark.parametrize("size", [(1, 1), (15, 15), (15, 400), (400, 15)])
def test_too_small_images_name_their_size(tmp_path, size):
    path = tmp_path / "tiny.png"
    Image.new("RGB", size, (200, 10, 10)).save(path)
    error = unreadable(path)
    assert f"{size[0]}x{size[1]}" in error.message
    assert "tiny.png" in error.message
    assert f"{MIN_SIDE}x{MIN_SIDE}" in error.message


def test_smallest_allowed_image_loads(tmp_path):
    path = tmp_path / "min.png"
    Image.new("RGB", (MIN_SIDE, MIN_SIDE), (1, 2, 3)).save(path)
    loaded = load_image(path)
    assert loaded.size == (MIN_SIDE, MIN_SIDE)
    assert loaded.image.getpixel((0, 0)) == (1, 2, 3)


def test_image_above_the_decode_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 30)).save(path)
    monkeypatch.setattr(images, "MAX_DECODE_BYTES", 1000)
    error = unreadable(path)
    # Pillow keeps RGB as four bytes a pixel: 40 x 30 x 4.
    assert "40x30 pixels of RGB (4,800 bytes decoded)" in error.message and "1,000 bytes" in error.message


def test_the_decode_limit_counts_bytes_per_pixel(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_DECODE_BYTES", 40 * 30 * 2)
    grey = tmp_path / "grey.png"
    Image.new("L", (40, 30)).save(grey)
    assert load_image(grey).size == (40, 30)              # one byte a pixel: fits
    deep = tmp_path / "deep.png"
    Image.fromarray(np.zeros((30, 40), dtype=np.uint16)).save(deep)
    assert load_image(deep).size == (40, 30)              # two bytes a pixel: just fits
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (40, 30)).save(rgb)
    assert "pixels of RGB" in unreadable(rgb).message     # four: too much


def test_huge_header_is_refused_without_decoding(tmp_path):
    # The header claims 60000x60000 grey (3.6 GB, above the limit) and there is no pixel data at
    # all: the size check must come first, so the user hears "too large", not "damaged".
    path = tmp_path / "claims_huge.png"
    path.write_bytes(_grey_png_header(60000, 60000) + _png_chunk(b"IEND", b""))
    error = unreadable(path)
    assert "60000x60000" in error.message and "3.6 GB decoded" in error.message


# --- every mode ends as 8-bit RGB or RGBA ----------------------------------------------------

def test_grey_becomes_rgb(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("L", (32, 24), 90).save(path)
    loaded = load_image(path)
    assert loaded.image.mode == "RGB" and loaded.source_mode == "L"
    assert loaded.image.getpixel((5, 5)) == (90, 90, 90)
    assert not loaded.has_alpha
    assert loaded.scale == 1.0 and loaded.original_size == (32, 24)
    assert loaded.source == path


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 256, 32768, 65535]], dtype=np.uint16).repeat(16, axis=0).repeat(8, axis=1)
    path = tmp_path / "grey16.png"
    Image.fromarray(values).save(path)
    assert stored(path)[0].startswith("I")
    loaded = load_image(path)
    assert loaded.image.mode == "RGB"
    grey = np.asarray(loaded.image)[0, :, 0]
    assert grey[0] == 0
    assert grey[8] <= 2                      # 256 of 65535 is nearly black, not 255
    assert abs(int(grey[16]) - 128) <= 1     # mid grey stays mid grey
    assert grey[24] == 255


def test_dark_16_bit_image_stays_dark(tmp_path):
    path = tmp_path / "dark16.png"
    Image.fromarray(np.full((20, 20), 200, dtype=np.uint16)).save(path)
    loaded = load_image(path)
    assert np.asarray(loaded.image).max() <= 2


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour(tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(path, quality=95)  # pure red in CMYK
    loaded = load_image(path)
    assert loaded.image.mode == "RGB" and loaded.source_mode == "CMYK"
    r, g, b = loaded.image.getpixel((20, 15))
    assert r > 200 and g < 60 and b < 60


def test_house_palette_png(tmp_path):
    loaded = load_image(HOUSE)
    assert loaded.source_mode == "P"
    # Its palette has a transparent entry that really cuts the house out of the background.
    assert loaded.image.mode == "RGBA" and loaded.has_alpha
    assert loaded.size == loaded.original_size == stored(HOUSE)[1]
    alpha = np.asarray(loaded.image.getchannel("A"))
    assert 0 < np.count_nonzero(alpha < 128) < alpha.size


def test_palette_png_without_transparency_becomes_rgb(tmp_path):
    path = tmp_path / "pal.png"
    Image.fromarray(noise(32, 32, 3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)
    loaded = load_image(path)
    assert loaded.image.mode == "RGB" and not loaded.has_alpha


def test_grey_with_alpha_becomes_rgba(tmp_path):
    alpha = np.zeros((32, 32), dtype=np.uint8)
    alpha[8:24, 8:24] = 255
    grey = np.full((32, 32), 70, dtype=np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(path)
    loaded = load_image(path)
    assert loaded.image.mode == "RGBA" and loaded.has_alpha and loaded.source_mode == "LA"
    assert loaded.image.getpixel((16, 16)) == (70, 70, 70, 255)
    assert loaded.image.getpixel((0, 0))[3] == 0


def test_rgba_with_opaque_alpha_is_plain_rgb(tmp_path):
    path = tmp_path / "opaque.png"
    Image.fromarray(np.dstack([noise(32, 32, 3), np.full((32, 32), 255, np.uint8)]), "RGBA").save(path)
    loaded = load_image(path)
    assert loaded.image.mode == "RGB" and not loaded.has_alpha and loaded.source_mode == "RGBA"


def test_rgba_with_fully_transparent_alpha_is_ignored(tmp_path):
    pixels = noise(32, 32, 3)
    path = tmp_path / "clear.png"
    Image.fromarray(np.dstack([pixels, np.zeros((32, 32), np.uint8)]), "RGBA").save(path)
    loaded = load_image(path)
    # A broken export: the colours are still there and matting will find the object itself.
    assert loaded.image.mode == "RGB" and not loaded.has_alpha
    assert np.array_equal(np.asarray(loaded.image), pixels)


def test_penguin_keeps_its_real_alpha():
    loaded = load_image(PENGUIN)
    assert loaded.image.mode == "RGBA" and loaded.has_alpha
    assert loaded.size == stored(PENGUIN)[1]


@pytest.mark.parametrize("mode, suffix", [
    ("1", ".png"), ("L", ".png"), ("P", ".png"), ("I", ".tif"), ("F", ".tif"), ("I;16", ".png"),
    ("LA", ".png"), ("RGB", ".png"), ("RGBA", ".png"), ("CMYK", ".jpg"), ("RGB", ".jpg"),
    ("RGB", ".webp"), ("RGB", ".bmp"), ("RGB", ".tif"), ("CMYK", ".tif"),
])
def test_every_mode_ends_as_8_bit_rgb_or_rgba(tmp_path, mode, suffix):
    rgb = Image.fromarray(noise(48, 40, 3))
    if mode == "I":
        image = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.int32) * 200, "I")
    elif mode == "F":
        image = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.float32) / 7.0, "F")
    elif mode == "I;16":
        image = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    elif mode == "RGBA":
        image = rgb.convert("RGBA")
        image.putalpha(Image.fromarray(noise(48, 40, 1, seed=1)))
    else:
        image = rgb.convert(mode)
    path = tmp_path / f"img{suffix}"
    image.save(path)
    loaded = load_image(path)
    assert_normal_form(loaded)
    assert loaded.size == (48, 40)
    assert loaded.source_mode == stored(path)[0]


# --- orientation and size ----------------------------------------------------------------------

def _exif_rotated_png(path: Path, size: tuple[int, int], orientation: int) -> None:
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 10, 10))       # a red mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)


def test_exif_orientation_6_is_turned_upright(tmp_path):
    path = tmp_path / "phone.png"
    _exif_rotated_png(path, (60, 30), 6)
    loaded = load_image(path)
    # Orientation 6: the camera was turned; the picture is shown rotated 90 degrees clockwise.
    assert loaded.size == (30, 60)
    assert loaded.original_size == (30, 60)    # boxes live in the turned frame
    assert loaded.scale == 1.0
    assert loaded.image.getpixel((29, 0)) == (255, 0, 0)   # stored top-left is now top-right
    assert loaded.image.getpixel((0, 0)) == (0, 0, 255)


def test_exif_rotated_and_downscaled(tmp_path):
    path = tmp_path / "phone_big.png"
    _exif_rotated_png(path, (400, 200), 6)
    loaded = load_image(path, max_side=100)
    assert loaded.original_size == (200, 400)
    assert loaded.size == (50, 100)
    assert loaded.scale == pytest.approx(0.25)


def test_downscale_keeps_aspect_and_reports_scale(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(noise(300, 100, 3)).save(path)
    loaded = load_image(path, max_side=64)
    assert loaded.size == (64, 21)
    assert loaded.original_size == (300, 100)
    assert loaded.scale == pytest.approx(64 / 300)


def test_downscaled_rgba_keeps_its_alpha(tmp_path):
    rgba = np.zeros((200, 400, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[50:150, 100:300, 3] = 255
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    loaded = load_image(path, max_side=100)
    assert loaded.image.mode == "RGBA" and loaded.has_alpha
    assert loaded.size == (100, 50)
    assert loaded.image.getpixel((50, 25)) == (255, 0, 0, 255)
    assert loaded.image.getpixel((2, 2))[3] == 0


def test_image_at_max_side_is_not_resampled(tmp_path):
    pixels = noise(64, 20, 3)
    path = tmp_path / "exact.png"
    Image.fromarray(pixels).save(path)
    loaded = load_image(path, max_side=64)
    assert loaded.scale == 1.0
    assert np.array_equal(np.asarray(loaded.image), pixels)


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
from img23d_backend.images import load_image
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

def _png(path: Path, width: int, height: int, depth: int, colour_type: int, row: bytes, extra: bytes = b"") -> None:
    compressor = zlib.compressobj(1)
    block = row * 256
    full, rest = divmod(height, 256)
    parts = [compressor.compress(block) for _ in range(full)] + [compressor.compress(row * rest), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + extra
                     + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def _palette_png(path: Path, side: int) -> None:
    # Three stripes: transparent red, blue, green (a palette with a tRNS chunk).
    row = b"\x00" + bytes([0]) * (side // 4) + bytes([1]) * (side // 2) + bytes([2]) * (side - side // 4 - side // 2)
    _png(path, side, side, 8, 3, row, _png_chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255, 0, 255, 0]))
         + _png_chunk(b"tRNS", bytes([0, 255, 255])))


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
from img23d_backend.images import load_image
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
        _png(path, side, side, 16, 0, b"\x00" + (40000).to_bytes(2, "big") * side)
    elif kind == "bit1":
        _png(path, side, side, 1, 0, b"\x00" + b"\xaa" * ((side + 7) // 8))
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


# --- more odd formats a user may pick ----------------------------------------------------------

def _frames(mode: str) -> list[Image.Image]:
    return [Image.new(mode, (40, 30), colour) for colour in ((255, 0, 0, 255), (0, 0, 255, 255))] \
        if mode == "RGBA" else [Image.new(mode, (40, 30), colour) for colour in ((255, 0, 0), (0, 0, 255))]


@pytest.mark.parametrize("suffix, save", [
    (".gif", {"format": "GIF"}), (".webp", {"format": "WEBP", "lossless": True}),
    (".png", {"format": "PNG"}),  # APNG
])
def test_animated_images_give_their_first_frame(tmp_path: Path, suffix: str, save: dict) -> None:
    first, second = _frames("RGB")
    path = tmp_path / f"anim{suffix}"
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0, **save)
    with Image.open(path) as stored_image:
        assert getattr(stored_image, "n_frames", 1) == 2
    loaded = load_image(path)
    assert loaded.size == (40, 30) and loaded.image.convert("RGB").getpixel((20, 15))[:3] == (255, 0, 0)


def test_webp_with_alpha_keeps_it(tmp_path: Path) -> None:
    rgba = np.zeros((30, 40, 4), dtype=np.uint8)
    rgba[..., 1] = 200
    rgba[5:25, 10:30, 3] = 255
    path = tmp_path / "cut.webp"
    Image.fromarray(rgba, "RGBA").save(path, lossless=True)
    loaded = load_image(path)
    assert loaded.image.mode == "RGBA" and loaded.has_alpha and loaded.image.getpixel((20, 15)) == (0, 200, 0, 255)


@pytest.mark.parametrize("colour_type, channels", [(2, 3), (6, 4)], ids=["RGB48", "RGBA64"])
def test_16_bit_colour_pngs_become_8_bit(tmp_path: Path, colour_type: int, channels: int) -> None:
    pixel = (65535, 32768, 0, 65535)[:channels]
    path = tmp_path / "deep.png"
    _png(path, 24, 20, 16, colour_type, b"\x00" + b"".join(v.to_bytes(2, "big") for v in pixel) * 24)
    loaded = load_image(path)
    assert loaded.image.mode == "RGB" and loaded.size == (24, 20)  # an opaque alpha is no alpha
    r, g, b = loaded.image.getpixel((5, 5))
    assert r == 255 and abs(g - 128) <= 1 and b == 0


def test_exif_rotated_jpeg_is_turned_upright(tmp_path: Path) -> None:
    image = Image.new("RGB", (64, 32), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = 8  # shown rotated 90 degrees counter-clockwise
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.size == loaded.original_size == (32, 64)
    r, g, b = loaded.image.getpixel((4, 60))  # stored top-left is now bottom-left
    assert r > 200 and b < 60


def test_a_png_named_jpg_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    Image.new("RGB", (20, 20), (1, 2, 3)).save(path, format="PNG")
    assert load_image(path).image.getpixel((0, 0)) == (1, 2, 3)


def test_a_link_to_a_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.png").symlink_to(tmp_path / "folder", target_is_directory=True)
    assert "not a file" in unreadable(tmp_path / "link.png").message


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_not_a_file() -> None:
    assert "not a file" in unreadable(Path("/dev/zero")).message
