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

from testdata import HOUSE, PENGUIN  # noqa: E402
from img23d_backend import images  # noqa: E402
from img23d_backend.images import MAX_SIDE, MIN_SIDE, load_image  # noqa: E402
from img23d_backend.protocol import ErrorCode, ProtocolError  # noqa: E402


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


def test_image_above_max_pixels_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 30)).save(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    error = unreadable(path)
    assert "40x30" in error.message and "1,000" in error.message


def test_huge_header_is_refused_without_decoding(tmp_path):
    # The header claims 30000x30000 (900 Mpx, above MAX_PIXELS) and there is no pixel data at all:
    # the size check must come first, so the user hears "too many pixels", not "damaged".
    path = tmp_path / "claims_huge.png"
    path.write_bytes(_grey_png_header(30000, 30000) + _png_chunk(b"IEND", b""))
    error = unreadable(path)
    assert "30000x30000" in error.message


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


_LOAD_IN_CHILD = """
import json, resource, sys
from img23d_backend.images import load_image
loaded = load_image(sys.argv[1])
print(json.dumps({"size": loaded.size, "original_size": loaded.original_size, "scale": loaded.scale,
                  "mode": loaded.image.mode, "has_alpha": loaded.has_alpha,
                  "pixel": loaded.image.getpixel((loaded.size[0] // 2, loaded.size[1] // 3)),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def test_20000_pixel_square_is_downscaled_in_bounded_memory(tmp_path):
    path = tmp_path / "poster.png"
    write_solid_grey_png(path, 20000, 20000, 77)
    assert path.stat().st_size < 4 << 20
    # In a child process so that its peak memory is its own: 400 MB of grey pixels must not
    # become 1.2 GB of RGB at full size before the downscale (that took 2.3 GB and 15 s).
    env = dict(os.environ, PYTHONPATH=str(Path(images.__file__).resolve().parents[1]))
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
