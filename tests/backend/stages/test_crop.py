"""Tests for stages/crop.py: the rectangle cut around each target before matting and shape."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "backend"))

from img23d_backend.stages.crop import crop, crop_box  # noqa: E402


def assert_valid(rect, image_size):
    width, height = image_size
    assert len(rect) == 4
    assert all(type(v) is int for v in rect), f"{rect!r} has non-int values"
    x0, y0, x1, y1 = rect
    assert 0 <= x0 < x1 <= width, rect
    assert 0 <= y0 < y1 <= height, rect


def test_margin_is_added_on_every_side_as_a_fraction_of_the_longer_side():
    rect = crop_box((100, 100, 200, 150), (1000, 1000), margin=0.1, min_size=8)
    # The longer side is 100 wide, so 10 pixels on all four sides, also above and below.
    assert rect == (90, 90, 210, 160)


def test_longer_side_is_the_height_for_a_tall_box():
    assert crop_box((300, 200, 340, 600), (1000, 1000), margin=0.25, min_size=8) == (200, 100, 440, 700)


def test_zero_margin_gives_the_box_itself():
    assert crop_box((10, 20, 110, 220), (500, 500), margin=0.0, min_size=8) == (10, 20, 110, 220)


def test_fractional_box_gives_ints():
    rect = crop_box((10.4, 20.6, 110.2, 220.7), (500, 500), margin=0.1, min_size=8)
    assert_valid(rect, (500, 500))
    # pad = 0.1 * 200.1; the left side spills 9.6 px over the edge, so the crop shifts right.
    assert rect == (0, 1, 140, 241)


def test_crop_covering_more_than_the_image_is_clamped_to_it():
    assert crop_box((0, 0, 1000, 800), (1000, 800), margin=0.5, min_size=64) == (0, 0, 1000, 800)
    assert crop_box((-50, -50, 1200, 900), (1000, 800), margin=0.1, min_size=64) == (0, 0, 1000, 800)


def test_crop_at_the_border_is_shifted_not_shrunk():
    # Box against the right edge: 10 px of margin cannot go right, so the crop moves left
    # and keeps its full 120 px width.
    rect = crop_box((900, 100, 1000, 200), (1000, 1000), margin=0.1, min_size=8)
    assert rect == (880, 90, 1000, 210)
    # Top-left corner: it moves right and down instead.
    assert crop_box((0, 0, 100, 100), (1000, 1000), margin=0.1, min_size=8) == (0, 0, 120, 120)


def test_tiny_box_grows_to_min_size_around_its_centre():
    rect = crop_box((500, 400, 502, 404), (1000, 1000), margin=0.1, min_size=64)
    assert rect == (469, 370, 533, 434)
    x0, y0, x1, y1 = rect
    assert (x0 + x1) / 2 == pytest.approx(501, abs=0.5) and (y0 + y1) / 2 == pytest.approx(402, abs=0.5)


def test_point_sized_box_gets_a_min_size_crop():
    assert crop_box((300, 300, 300, 300), (1000, 1000), margin=0.1, min_size=64) == (268, 268, 332, 332)


@pytest.mark.parametrize("centre", [500, 501, 500.5, 501.5])
def test_odd_min_size_is_not_lost_to_rounding(centre):
    # 63 px around a whole or half pixel puts both ends on .5, where round() goes to even.
    x0, y0, x1, y1 = crop_box((centre, centre, centre, centre), (1000, 1000), margin=0.1, min_size=63)
    assert 63 <= x1 - x0 <= 64 and 63 <= y1 - y0 <= 64
    assert abs((x0 + x1) / 2 - centre) <= 1


def test_tiny_box_in_a_corner_grows_into_the_image():
    assert crop_box((0, 0, 2, 2), (1000, 1000), margin=0.1, min_size=64) == (0, 0, 64, 64)
    assert crop_box((998, 997, 1000, 1000), (1000, 1000), margin=0.1, min_size=64) == (936, 936, 1000, 1000)


def test_image_smaller_than_min_size_is_never_exceeded():
    assert crop_box((10, 10, 20, 20), (40, 30), margin=0.1, min_size=64) == (0, 0, 40, 30)
    assert crop_box((0, 0, 1, 1), (1, 1), margin=0.5, min_size=64) == (0, 0, 1, 1)
    # Smaller than min_size in one direction only.
    assert crop_box((100, 5, 110, 10), (500, 20), margin=0.0, min_size=64) == (73, 0, 137, 20)


def test_box_partly_outside_the_image():
    rect = crop_box((-20, 950, 60, 1100), (1000, 1000), margin=0.1, min_size=64)
    assert_valid(rect, (1000, 1000))
    assert rect[0] == 0 and rect[3] == 1000


def test_box_wholly_outside_the_image_still_gives_a_crop_inside_it():
    for box in [(1200, 1200, 1300, 1300), (-300, -300, -200, -200), (1200, 10, 1300, 20)]:
        rect = crop_box(box, (1000, 800), margin=0.1, min_size=64)
        assert_valid(rect, (1000, 800))


def test_crop_cuts_that_rectangle_out_of_the_image():
    image = Image.new("RGB", (200, 100), (0, 0, 0))
    image.paste((255, 0, 0), (50, 20, 80, 60))
    rect = crop_box((50, 20, 80, 60), image.size, margin=0.0, min_size=8)
    piece = crop(image, rect)
    assert piece.size == (30, 40)
    assert piece.getcolors() == [(30 * 40, (255, 0, 0))]


def test_random_boxes_keep_every_promise():
    rng = random.Random(0)
    for case in range(2000):
        width, height = rng.choice([rng.randint(1, 80), rng.randint(16, 5000)]), rng.randint(1, 5000)
        if rng.random() < 0.3:
            height = rng.randint(1, 80)
        margin = rng.choice([0.0, 0.1, rng.uniform(0, 2)])
        min_size = rng.choice([64, rng.randint(8, 4096)])
        # Mostly inside the image, some spilling over the border, some points, some far out.
        bw = rng.choice([0.0, rng.uniform(0, 3), rng.uniform(0, width * 1.2)])
        bh = rng.choice([0.0, rng.uniform(0, 3), rng.uniform(0, height * 1.2)])
        bx0 = rng.uniform(-0.2 * width, 1.1 * width)
        by0 = rng.uniform(-0.2 * height, 1.1 * height)
        box = (bx0, by0, bx0 + bw, by0 + bh)
        if rng.random() < 0.3:  # detections in whole pixels: ends land on .5 with odd sizes
            box = tuple(float(round(v)) for v in box)
            bw, bh = box[2] - box[0], box[3] - box[1]

        rect = crop_box(box, (width, height), margin=margin, min_size=min_size)
        context = f"case {case}: box={box} image={(width, height)} margin={margin} min_size={min_size} -> {rect}"
        assert all(type(v) is int for v in rect), context
        x0, y0, x1, y1 = rect
        assert 0 <= x0 < x1 <= width, context
        assert 0 <= y0 < y1 <= height, context

        pad = max(bw, bh) * margin
        for lo, hi, b0, b1, limit in ((x0, x1, box[0], box[2], width), (y0, y1, box[1], box[3], height)):
            needed = min(min_size, limit)
            # Grown to the minimum, but never beyond the image.
            assert hi - lo >= needed, context
            # Neither shrunk nor grown by the shift: the box with its margin, or the minimum.
            expected = min(limit, max(b1 - b0 + 2 * pad, needed))
            assert abs((hi - lo) - expected) <= 1, context
            # The part of the padded box that lies in the image is inside the crop (to a pixel).
            want_lo, want_hi = max(0.0, b0 - pad), min(float(limit), b1 + pad)
            if want_lo < want_hi:
                assert lo <= want_lo + 1 and hi >= want_hi - 1, context
