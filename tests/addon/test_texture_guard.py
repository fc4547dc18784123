"""The texture bomb (issue 46, item 1; issue 58, item 1), without Blender: image sizes and bit
depths read from headers alone, and a GLB or texture refused, in one sentence naming the file, the
size and depth found and the bytes Blender would hold, when an image would hold more than img23d's
largest texture, a file more than three of those, or an imported run more than its budget. Every file here is made byte by byte (tests/textured_glb.py):
a bomb's header is real, its pixels are not, so it stays a few hundred bytes."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from img23d_client import texture_guard
from img23d_protocol import image_headers
from textured_glb import glb_bytes, jpeg_header, png, png_header, webp_header, write_glb

LARGEST = "the 256 MB of img23d's largest texture (8,192 x 8,192 pixels of 8-bit colour)"
BOMB = f"house.glb: its image 0 is 16,384 x 16,384 pixels of 8-bit colour, which Blender holds as 1,024 MB, " \
       f"more than {LARGEST}, so it is not imported"


def _size(data: bytes) -> image_headers.ImageSize:
    return image_headers.image_size(image_headers.Window(io.BytesIO(data), 0, len(data)))


@pytest.mark.parametrize("data, expected", [
    (png(64, 32), (64, 32, "PNG")),
    (png_header(16384, 16384), (16384, 16384, "PNG")),
    (png_header(8192, 8192, bits=16), (8192, 8192, "PNG", 16)),
    (png_header(100, 100, bits=1), (100, 100, "PNG", 1)),
    (jpeg_header(640, 480, marker=0xC1, precision=12), (640, 480, "JPEG", 12)),
    (jpeg_header(640, 480), (640, 480, "JPEG")),
    (jpeg_header(300, 200, marker=0xC2, app_bytes=60_000), (300, 200, "JPEG")),   # progressive, after a big APP0
    (jpeg_header(1000, 10, marker=0xC1), (1000, 10, "JPEG")),
    (webp_header(16384, 9000), (16384, 9000, "WebP")),
    (webp_header(4000, 3000, "VP8L"), (4000, 3000, "WebP")),
    (webp_header(1024, 768, "VP8 "), (1024, 768, "WebP")),
])
def test_the_size_is_read_from_the_header(data: bytes, expected: tuple) -> None:
    size = _size(data)
    assert (size.width, size.height, size.format, size.bits) == (expected + (8,))[:4]


@pytest.mark.parametrize("fmt, options", [("JPEG", {}), ("JPEG", {"progressive": True}), ("WEBP", {"lossless": True}),
                                          ("WEBP", {"quality": 50}), ("PNG", {})])
def test_real_files_read_as_pillow_reads_them(fmt: str, options: dict) -> None:
    Image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    Image.new("RGB", (123, 45), (10, 200, 30)).save(buffer, fmt, **options)
    size = _size(buffer.getvalue())
    assert (size.width, size.height) == (123, 45)


@pytest.mark.parametrize("data, why", [
    (b"GIF89a" + b"\0" * 20, "neither a PNG, a JPEG nor a WebP image"),
    (b"", "neither a PNG, a JPEG nor a WebP image"),
    (png_header(64, 64)[:20], "cut short"),
    (b"\x89PNG\r\n\x1a\n" + b"\0\0\0\x0dIDAT" + b"\0" * 13, "does not begin with IHDR"),
    (png_header(0, 64), "gives no size"),
    (png_header(64, 64, bits=7), "impossible bit depth"),
    (jpeg_header(64, 64, precision=0), "impossible precision"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "cut short"),                   # the APP0 segment runs past the end
    (b"\xff\xd8\xff\xda\x00\x02", "begins before any frame header"),  # scan data with no frame
    (b"\xff\xd8\x00\x00\x00\x00", "segments are broken"),
    (b"\xff\xd8" + b"\xff\xfe\x00\x02" * 5000, "more than 4096 segments"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 \x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "frame header is broken"),
    (b"RIFF\x10\x00\x00\x00WEBPALPH\x00\x00\x00\x00", "names no image chunk"),
])
def test_a_header_that_is_cut_short_or_unknown_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(image_headers.UnreadableImage, match=why):
        _size(data)


def test_a_window_is_never_read_past_its_end() -> None:
    data = png_header(64, 64) + png(8, 8)  # the window holds only the first 20 bytes of the first image
    with pytest.raises(image_headers.UnreadableImage, match="cut short"):
        image_headers.image_size(image_headers.Window(io.BytesIO(data), 0, 20))


# --- GLBs ---------------------------------------------------------------------------------------

def test_a_small_glb_whose_texture_is_16384_pixels_square_is_refused(tmp_path: Path) -> None:
    bomb = write_glb(tmp_path / "house.glb", png_header(16384, 16384))
    assert bomb.stat().st_size < 2000
    with pytest.raises(texture_guard.Refused) as caught:
        texture_guard.check_glb(bomb)
    assert caught.value.message == BOMB


def test_an_honest_glb_passes_with_its_sizes(tmp_path: Path) -> None:
    assert texture_guard.check_glb(write_glb(tmp_path / "house.glb", png(64, 64))) == \
        [image_headers.ImageSize(64, 64, "PNG")]
    assert texture_guard.check_glb(write_glb(tmp_path / "plain.glb", document={"images": []})) == []


def test_the_largest_texture_a_job_can_make_passes_and_one_pixel_more_does_not(tmp_path: Path) -> None:
    side = texture_guard.LARGEST_TEXTURE
    assert side == 8192  # the protocol's largest texture_size and bake_size
    assert texture_guard.check_glb(write_glb(tmp_path / "a.glb", png_header(side, side)))[0].pixels == side * side
    with pytest.raises(texture_guard.Refused, match=r"its image 0 is 8,193 x 8,192 pixels of 8-bit colour"):
        texture_guard.check_glb(write_glb(tmp_path / "b.glb", png_header(side + 1, side)))


@pytest.mark.parametrize("image, mime, found", [(jpeg_header(20000, 20000), "image/jpeg", "20,000 x 20,000"),
                                                (webp_header(12000, 9000), "image/webp", "12,000 x 9,000")],
                         ids=["jpeg", "webp"])
def test_jpeg_and_webp_bombs_are_refused_too(tmp_path: Path, image: bytes, mime: str, found: str) -> None:
    with pytest.raises(texture_guard.Refused, match=f"its image 0 is {found} pixels"):
        texture_guard.check_glb(write_glb(tmp_path / "house.glb", image, mime=mime))


def test_many_images_of_the_largest_size_are_refused_together(tmp_path: Path) -> None:
    # Images in the document, all through the one buffer view: each alone is allowed, and three (a
    # finished object's colour, metallicRoughness and normal maps at the largest bake size) together.
    def listing(count: int) -> Path:
        path = tmp_path / f"many-{count}.glb"
        path.write_bytes(glb_bytes(png_header(8192, 8192),
                                   document={"images": [{"bufferView": 2, "mimeType": "image/png"}] * count}))
        return path

    assert len(texture_guard.check_glb(listing(3))) == 3
    with pytest.raises(texture_guard.Refused) as caught:
        texture_guard.check_glb(listing(4))
    assert caught.value.message == ("many-4.glb: its 4 images (4 of 8-bit colour) are held by Blender as 1,024 MB, "
                                    "more than the 768 MB of three of img23d's largest textures, so it is not imported")


def test_an_image_beside_the_glb_is_read_and_one_elsewhere_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "texture%20one.png").write_bytes(b"")  # the URI is percent-encoded: this name is not it
    (run / "texture one.png").write_bytes(png_header(16384, 16384))
    with pytest.raises(texture_guard.Refused, match=r"house.glb: its image 0 is 16,384 x 16,384 pixels"):
        texture_guard.check_glb(write_glb(run / "house.glb", uri="texture%20one.png"))
    (tmp_path / "outside.png").write_bytes(png(4, 4))
    for uri, why in [("../outside.png", "outside the GLB's folder"), ("/etc/passwd", "not a file beside the GLB"),
                     ("file:///etc/passwd", "not a file beside the GLB"), ("http://example.com/x.png",
                                                                          "not a file beside the GLB"),
                     ("missing.png", "not there")]:
        with pytest.raises(texture_guard.Refused, match=why):
            texture_guard.check_glb(write_glb(run / "house.glb", uri=uri))


def test_a_data_uri_bomb_is_refused(tmp_path: Path) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png_header(16384, 16384)).decode()
    with pytest.raises(texture_guard.Refused, match=BOMB.replace("(", r"\(").replace(")", r"\)")):
        texture_guard.check_glb(write_glb(tmp_path / "house.glb", uri=uri))
    with pytest.raises(texture_guard.Refused, match="not base64"):
        texture_guard.check_glb(write_glb(tmp_path / "house.glb", uri="data:image/png,%89PNG"))


@pytest.mark.parametrize("change, why", [
    (lambda glb: b"GLTF" + glb[4:], "is not a binary glTF \\(GLB\\) file"),
    (lambda glb: glb[:4] + b"\x01" + glb[5:], "is glTF version 1, not 2"),
    (lambda glb: glb[:-100], "is cut short"),
    (lambda glb: glb[:8], "is not a binary glTF"),
    (lambda glb: glb[:20] + b"}" + glb[21:], "its JSON chunk is not valid JSON"),
])
def test_a_file_that_is_not_a_whole_glb_is_refused(tmp_path: Path, change, why: str) -> None:
    path = tmp_path / "house.glb"
    path.write_bytes(change(glb_bytes(png(8, 8))))
    with pytest.raises(texture_guard.Refused, match=why):
        texture_guard.check_glb(path)


@pytest.mark.parametrize("document, why", [
    ({"images": [{"bufferView": 7}]}, "names a buffer view that is not there"),
    ({"images": [{"bufferView": True}]}, "names a buffer view that is not there"),
    ({"images": [{"mimeType": "image/png"}]}, "names neither a buffer view nor a URI"),
    ({"bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 10 ** 9}] * 3}, "runs past the end"),
    ({"bufferViews": [{"buffer": 0, "byteOffset": -4, "byteLength": 4}] * 3}, "offset is not a whole number"),
    ({"images": "many"}, "its list of images is not a list"),
    ({"images": [{"uri": "a.png"}] * 65}, "lists 65 images, more than the 64"),
])
def test_a_glb_whose_images_cannot_be_found_is_refused(tmp_path: Path, document: dict, why: str) -> None:
    with pytest.raises(texture_guard.Refused, match=why):
        texture_guard.check_glb(write_glb(tmp_path / "house.glb", png(8, 8), document=document))


def test_a_garbage_header_inside_a_glb_is_refused(tmp_path: Path) -> None:
    with pytest.raises(texture_guard.Refused, match=r"house.glb is not imported: its image 0 cannot be read "
                                                    r"\(it is neither a PNG, a JPEG nor a WebP image\)"):
        texture_guard.check_glb(write_glb(tmp_path / "house.glb", b"\x00garbage" * 8))
    with pytest.raises(texture_guard.Refused, match=r"its image 0 cannot be read \(its header is cut short\)"):
        texture_guard.check_glb(write_glb(tmp_path / "house.glb", png_header(64, 64)[:12]))


# --- a texture file (Re-texture's result, a run's pictures) -------------------------------------

def test_a_texture_file_is_checked_the_same_way(tmp_path: Path) -> None:
    honest = tmp_path / "texture.png"
    honest.write_bytes(png(32, 16))
    assert texture_guard.check_image(honest) == image_headers.ImageSize(32, 16, "PNG")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(16384, 16384))
    with pytest.raises(texture_guard.Refused) as caught:
        texture_guard.check_image(bomb)
    assert caught.value.message == ("bomb.png is 16,384 x 16,384 pixels of 8-bit colour, which Blender holds as "
                                    f"1,024 MB, more than {LARGEST}, so it is not loaded")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(texture_guard.Refused, match="garbage.png is not loaded: it is neither a PNG"):
        texture_guard.check_image(garbage)


# --- bytes, not pixels (issue 58, item 1) -------------------------------------------------------

def test_a_16_bit_texture_of_the_largest_size_is_refused_for_the_floats_blender_would_hold(tmp_path: Path) -> None:
    # Blender holds a 16-bit image as float RGBA: 16 bytes a pixel, four times an 8-bit one.
    bomb = write_glb(tmp_path / "house.glb", png_header(8192, 8192, bits=16))
    with pytest.raises(texture_guard.Refused) as caught:
        texture_guard.check_glb(bomb)
    assert caught.value.message == ("house.glb: its image 0 is 8,192 x 8,192 pixels of 16-bit colour, which Blender "
                                    f"holds as 1,024 MB, more than {LARGEST}, so it is not imported")
    texture = tmp_path / "texture.png"
    texture.write_bytes(png_header(8192, 8192, bits=16))
    with pytest.raises(texture_guard.Refused, match=r"texture.png is 8,192 x 8,192 pixels of 16-bit colour, "
                                                    r"which Blender holds as 1,024 MB, .* so it is not loaded"):
        texture_guard.check_image(texture)


def test_three_16_bit_maps_in_one_small_glb_are_refused(tmp_path: Path) -> None:
    # The fault as found: three 8192² 16-bit PNGs in a 1.6 MB GLB passed, and cost Blender 3 GB.
    path = tmp_path / "house.glb"
    path.write_bytes(glb_bytes(png_header(8192, 8192, bits=16),
                               document={"images": [{"bufferView": 2, "mimeType": "image/png"}] * 3}))
    with pytest.raises(texture_guard.Refused, match=r"house.glb: its image 0 is 8,192 x 8,192 pixels of 16-bit"):
        texture_guard.check_glb(path)
    # Smaller 16-bit maps pass alone, and are counted at 16 bytes a pixel towards the file's bound.
    path.write_bytes(glb_bytes(png_header(4096, 4096, bits=16),
                               document={"images": [{"bufferView": 2, "mimeType": "image/png"}] * 4}))
    with pytest.raises(texture_guard.Refused, match=r"its 4 images \(4 of 16-bit colour\) are held by Blender as "
                                                    r"1,024 MB, more than the 768 MB"):
        texture_guard.check_glb(path)


def test_a_12_bit_jpeg_counts_as_float_too(tmp_path: Path) -> None:
    with pytest.raises(texture_guard.Refused, match=r"5,000 x 5,000 pixels of 12-bit colour, which Blender holds "
                                                    r"as 381 MB"):
        texture_guard.check_glb(write_glb(tmp_path / "house.glb", jpeg_header(5000, 5000, 0xC1, precision=12),
                                          mime="image/jpeg"))


def test_the_sizes_a_job_makes_pass_with_their_bytes(tmp_path: Path) -> None:
    # A finished object at the largest bake size: three 8-bit 8192² maps, 768 MB, the file's bound.
    path = tmp_path / "finished.glb"
    path.write_bytes(glb_bytes(png_header(8192, 8192), document={"images": [{"bufferView": 2}] * 3}))
    sizes = texture_guard.check_glb(path)
    assert sum(size.held_bytes for size in sizes) == texture_guard.MAX_FILE_BYTES == 3 * 8192 ** 2 * 4


def test_a_run_is_bounded_as_a_whole_and_a_legit_run_fits(tmp_path: Path) -> None:
    # 32 finished objects at bake size 2048, a low and a high mesh each with three 2048² maps: 3 GB.
    finished = tmp_path / "finished.glb"
    finished.write_bytes(glb_bytes(png_header(2048, 2048), document={"images": [{"bufferView": 2}] * 3}))
    budget = texture_guard.RunBudget()
    for _ in range(32 * 2):
        texture_guard.check_glb(finished, budget)
    assert budget.held == 32 * 2 * 3 * 2048 ** 2 * 4 <= texture_guard.MAX_RUN_BYTES
    # A hostile host's run: every file the largest a file may be. The budget stops it at 4 GB.
    hostile = tmp_path / "hostile.glb"
    hostile.write_bytes(glb_bytes(png_header(8192, 8192), document={"images": [{"bufferView": 2}] * 3}))
    budget, passed = texture_guard.RunBudget(), 0
    with pytest.raises(texture_guard.OverBudget) as caught:
        for _ in range(32):
            texture_guard.check_glb(hostile, budget)
            passed += 1
    assert passed == 5 and budget.held == 5 * texture_guard.MAX_FILE_BYTES <= texture_guard.MAX_RUN_BYTES
    assert caught.value.message == ("hostile.glb: its images, which Blender holds as 768 MB, would take this run past "
                                    "its budget of 4,096 MB of images (3,840 MB held already), so it is not imported")
    # What still fits is let in; a refund gives back a file that did not import after all.
    small = write_glb(tmp_path / "small.glb", png(8, 8))
    texture_guard.check_glb(small, budget)
    assert budget.held == 5 * texture_guard.MAX_FILE_BYTES + 8 * 8 * 4
    budget.refund(8 * 8 * 4)
    texture = tmp_path / "texture.png"
    texture.write_bytes(png_header(8192, 8192))
    texture_guard.check_image(texture, budget)  # the budget's last 256 MB
    assert budget.held == budget.limit
    with pytest.raises(texture_guard.OverBudget, match=r"texture.png: this image, which Blender holds as 256 MB, "
                                                       r"would take this run past its budget of 4,096 MB"):
        texture_guard.check_image(texture, budget)
