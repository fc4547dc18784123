"""Tests for readers/images.py: every way a user's picture arrives, and every way it can be unusable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from image_files import assert_normal_form, grey_png_header, noise, png_chunk, png_file, stored, unreadable
from PIL import Image

from testdata import HOUSE, SUBJECT
from img23d_backend.readers import images
from img23d_backend.readers.images import MAX_ASPECT, MIN_SIDE, load_image


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


@pytest.mark.parametrize("size", [(20000, 20), (16, 16384), (MAX_ASPECT * 16 + 1, 16)])
def test_a_picture_whose_sides_differ_over_the_bound_is_one_sentence(tmp_path, size):
    # Issue 58 item 5: 20000 x 20 reached the grounding processor and ended in a traceback.
    path = tmp_path / "strip.png"
    Image.new("L", size, 128).save(path)
    error = unreadable(path)
    assert f"{size[0]}x{size[1]}" in error.message and f"more than {MAX_ASPECT} times" in error.message


def test_a_picture_at_the_aspect_bound_loads(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (MAX_ASPECT * 16, 16), (9, 9, 9)).save(path)
    assert load_image(path).original_size == (MAX_ASPECT * 16, 16)


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
    path.write_bytes(grey_png_header(60000, 60000) + png_chunk(b"IEND", b""))
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


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_transparent_key_colour_is_the_cut_outs_alpha(tmp_path, mode):
    """A tRNS chunk on an RGB or grey PNG (optipng's form of an RGBA cut-out whose alpha is 0 or 255): read as
    a picture without alpha, the artist's own cut-out was matted again."""
    image = Image.new(mode, (64, 64), 0)
    image.paste(200 if mode == "L" else (200, 40, 40), (16, 16, 48, 48))
    path = tmp_path / "cut.png"
    image.save(path, transparency=0 if mode == "L" else (0, 0, 0))
    loaded = load_image(path)
    assert loaded.has_alpha and loaded.image.mode == "RGBA"
    alpha = np.asarray(loaded.image.getchannel("A"))
    assert (alpha[16:48, 16:48] == 255).all() and np.count_nonzero(alpha == 0) == 64 * 64 - 32 * 32


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


def test_the_subject_keeps_its_real_alpha():
    loaded = load_image(SUBJECT)
    assert loaded.image.mode == "RGBA" and loaded.has_alpha
    assert loaded.size == stored(SUBJECT)[1]


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
    png_file(path, 24, 20, 16, colour_type, b"\x00" + b"".join(v.to_bytes(2, "big") for v in pixel) * 24)
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
