"""Each target's own points against the measured floor (``layout.object_points``, issue 98), on point maps cast
through a pitched camera from boxes whose answer is known: a tall object half hidden behind a nearer box keeps its
height and stands on the floor; a box on a table rests on the table; and the layout sizes and stands them so."""

from __future__ import annotations

import math

import numpy as np
import pytest

from img23d_backend.layout.floor_points import MeasuredFloor
from img23d_backend.layout.object_points import heights_of, labels_of
from img23d_protocol.layout import LayoutSettings, LayoutTarget, solve
from img23d_protocol.layout_floor import Heights

from cast_scenes import cast, standing_box

SIZE, FOCAL, PITCH, HEIGHT = (160, 120), 140.0, math.radians(12.0), 1.5
FLOOR = MeasuredFloor(PITCH, HEIGHT, 1000)


def _cast(boxes: list[tuple[tuple[float, float, float], tuple[float, float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """(point map, labels) of world boxes (size, bottom centre) through this module's camera (``cast_scenes``)."""
    return cast([standing_box(size, bottom) for size, bottom in boxes], SIZE, FOCAL, PITCH, HEIGHT)


def test_a_tall_object_half_hidden_behind_a_box_keeps_its_height_and_stands_on_the_floor() -> None:
    points, labels = _cast([((0.8, 0.6, 0.7), (0.0, 3.0, 0.0)), ((0.3, 0.3, 1.6), (0.0, 4.2, 0.0))])
    box, tall = heights_of(points, labels, 1, FLOOR), heights_of(points, labels, 2, FLOOR)
    assert box.top_seen and box.bottom_seen and box.base == 0.0 and box.height == pytest.approx(0.7, abs=0.03)
    assert tall.top_seen and not tall.bottom_seen        # the box in front hides its foot
    assert tall.base == 0.0 and tall.height == pytest.approx(1.6, abs=0.04)


def test_a_box_on_a_table_rests_on_it() -> None:
    points, labels = _cast([((1.2, 0.8, 0.75), (0.0, 3.2, 0.0)), ((0.3, 0.3, 0.3), (0.1, 3.2, 0.75))])
    table, box = heights_of(points, labels, 1, FLOOR), heights_of(points, labels, 2, FLOOR)
    assert table.base == 0.0 and table.height == pytest.approx(0.75, abs=0.03)
    assert box.bottom_seen and box.base == pytest.approx(0.75, abs=0.03)
    assert box.height == pytest.approx(0.3, abs=0.03)


def test_a_picture_edge_cutting_the_top_or_foot_hides_it() -> None:
    points, labels = _cast([((0.6, 0.6, 4.0), (0.0, 3.0, 0.0))])   # taller than the picture shows
    assert not heights_of(points, labels, 1, FLOOR).top_seen
    assert heights_of(points, labels, 2, FLOOR) is None             # nothing of it: no heights


def test_nearer_mattes_win_the_pixels_they_share() -> None:
    back, front = np.full((4, 4), 255, np.uint8), np.full((2, 2), 255, np.uint8)
    labels = labels_of((4, 4), [(0, back, (0, 0, 4, 4), 6.0), (1, front, (1, 1, 3, 3), 2.0)])
    assert (labels[1:3, 1:3] == 2).all() and (labels[0] == 1).all()


def test_the_layout_sizes_and_stands_an_object_by_its_heights() -> None:
    """A measured height gives the size (the box only centres it), a hidden foot stands on the floor, a raised
    seen one where it is; records that hold no heights, or hold garbage, keep the box's fit."""
    heights = Heights(1.6, 0.62, top_seen=True, bottom_seen=False)
    target = LayoutTarget("lamp", (300.0, 100.0, 340.0, 300.0), 1 / 4.0, heights)
    settings = LayoutSettings(metric=True, floor=(PITCH, HEIGHT))
    placed = solve((640, 480), [target], settings).place("lamp", (0.5, 0.5, 2.0))
    assert placed.scale == pytest.approx(0.8) and placed.location[2] == 0.0 and placed.on_floor
    raised = Heights(1.05, 0.75, top_seen=True, bottom_seen=True)
    on_table = solve((640, 480), [LayoutTarget("box", target.box, 1 / 3.0, raised)], settings)
    assert on_table.anchors["box"].contact[2] == 0.75 and on_table.place("box", (1, 1, 1)).scale == pytest.approx(0.3)
    boxed = solve((640, 480), [LayoutTarget("lamp", target.box, 1 / 4.0)], settings).place("lamp", (0.5, 0.5, 2.0))
    assert boxed.scale != pytest.approx(0.8)
    for bad in ({"top_m": "1.6", "bottom_m": 0, "top_seen": True, "bottom_seen": True},
                {"top_m": 1.6, "bottom_m": float("nan"), "top_seen": True, "bottom_seen": True},
                {"top_m": 1.6, "bottom_m": 0.1, "top_seen": 1, "bottom_seen": True}, [1.6], None):
        assert Heights.of(bad) is None
    assert Heights.of(heights.to_dict()) == heights
