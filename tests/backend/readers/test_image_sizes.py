"""Pictures read at the size and the way up a viewer shows them: EXIF (and TIFF) orientation turned once, a large
picture shrunk with its aspect and scale, boxes taken between the working picture and the file by each axis's own
factor, and a JPEG too small for the picture its header declares refused as cut short."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from image_files import noise, unreadable
from PIL import Image

from img23d_backend.readers.images import load_image


def _exif_rotatedpng_file(path: Path, size: tuple[int, int], orientation: int) -> None:
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 10, 10))       # a red mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_exif_orientation_6_is_turned_upright(tmp_path, suffix):
    """Once: Pillow turns a TIFF itself, and the reader turned it again (a portrait read as a landscape)."""
    path = tmp_path / f"phone{suffix}"
    _exif_rotatedpng_file(path, (60, 30), 6)
    loaded = load_image(path)
    # Orientation 6: the camera was turned; the picture is shown rotated 90 degrees clockwise.
    assert loaded.size == (30, 60)
    assert loaded.original_size == (30, 60)    # boxes live in the turned frame
    assert loaded.scale == 1.0
    assert np.abs(np.subtract(loaded.image.getpixel((27, 2)), (255, 0, 0))).max() < 40  # stored top-left: top-right
    assert np.abs(np.subtract(loaded.image.getpixel((2, 2)), (0, 0, 255))).max() < 40   # (a JPEG's within its loss)


def test_exif_rotated_and_downscaled(tmp_path):
    path = tmp_path / "phone_big.png"
    _exif_rotatedpng_file(path, (400, 200), 6)
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


def test_a_box_on_a_shrunk_pictures_edges_comes_back_on_its_edges(tmp_path):
    """Known answer: 5000 x 3004 is read at 4096 x 2461 (each side rounded apart); one factor took a box on the
    working picture's bottom edge to 3004.15, past the picture, and ``--box`` refused Detect's own box."""
    path = tmp_path / "wide.png"
    Image.new("RGB", (5000, 3004), (128, 128, 128)).save(path)
    loaded = load_image(path)
    assert loaded.size == (4096, 2461)
    width, height = loaded.size
    assert loaded.to_original((0.0, 0.0, float(width), float(height))) == [0.0, 0.0, 5000.0, 3004.0]
    box = (500.0, 2403.2, 1500.0, 3004.0)
    assert loaded.to_original(loaded.to_working(box)) == pytest.approx(list(box), abs=0.01)



def test_a_jpeg_too_small_for_its_header_is_cut_short(tmp_path):
    """64 x 64 pixels' data under a 60,000 x 60,000 header: libjpeg filled the rest grey and only warned, and the
    picture was read as grey. A real JPEG of the same size as flat as can be is read."""
    import io

    made = io.BytesIO()
    Image.new("RGB", (64, 64)).save(made, "JPEG")
    data = bytearray(made.getvalue())
    frame = data.find(b"\xff\xc0")
    data[frame + 5:frame + 9] = (60000).to_bytes(2, "big") + (60000).to_bytes(2, "big")
    lying = tmp_path / "lying.jpg"
    lying.write_bytes(bytes(data))
    error = unreadable(lying)
    assert error.message.startswith("lying.jpg is cut short: its ") and "60,000 x 60,000 pixels" in error.message
    flat = tmp_path / "flat.jpg"
    Image.new("RGB", (4096, 4096), (128, 128, 128)).save(flat, "JPEG", quality=1, progressive=True)
    assert load_image(flat).original_size == (4096, 4096)
