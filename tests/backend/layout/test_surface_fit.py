"""Each mesh fitted to its own points (``layout.surface_fit``, issue 98), on point maps ray-cast from scenes whose
answer is known (``cast_scenes``): a table turned 40 degrees, placed by the median of its visible surface, stood
0.2 m and more too far, and its fit puts it within 3 cm; a ball half behind a nearer box, centred on its box, went
towards its seen side, and the fit centres it on its own edge. The shift and the centring are kept in the record,
so the protocol's layout (Re-layout, Import Run) stands it where the backend did; a manifest's garbage there is
ignored; an object with no surface in the map is not fitted."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh
from img23d_protocol.layout import ACROSS_KEY, SHIFT_KEY, SceneLayout, solve, targets_from_records

from img23d_backend.layout.surface_fit import seen_surface
from cast_scenes import lay_out, standing_box

SIZE, FOCAL, PITCH, HEIGHT = (320, 240), 260.0, math.radians(14.0), 1.5


def _lay_out(world: list[trimesh.Trimesh], fit: bool) -> tuple[list[SimpleNamespace], SceneLayout, list[np.ndarray]]:
    return lay_out(world, SIZE, FOCAL, PITCH, HEIGHT, fit=fit)


def _centre_error(placed: np.ndarray, truth: trimesh.Trimesh) -> np.ndarray:
    return (placed.min(axis=0) + placed.max(axis=0)) / 2 - truth.bounds.mean(axis=0)


@pytest.fixture(scope="module")
def turned_table() -> list[trimesh.Trimesh]:
    return [standing_box((1.2, 0.8, 0.75), (0.3, 3.4, 0.0), yaw_degrees=40.0)]


def test_a_turned_table_stands_where_its_points_say_and_not_a_median_too_far(turned_table) -> None:
    _, _, median_only = _lay_out(turned_table, fit=False)
    records, _, fitted = _lay_out(turned_table, fit=True)
    assert np.linalg.norm(_centre_error(median_only[0], turned_table[0])[:2]) > 0.2   # what the fit mends
    assert np.linalg.norm(_centre_error(fitted[0], turned_table[0])) < 0.03
    assert records[0].depth[SHIFT_KEY] < -0.2                                         # nearer, along its sight


def test_a_ball_half_behind_a_box_is_centred_on_its_own_edge() -> None:
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.35)
    ball.apply_translation((-0.75, 3.0, 0.35))
    world = [ball, standing_box((0.6, 0.5, 1.0), (-0.2, 2.2, 0.0))]
    _, _, boxed = _lay_out(world, fit=False)
    records, _, fitted = _lay_out(world, fit=True)
    assert abs(_centre_error(boxed[0], ball)[0]) > 0.06          # centred on its box: towards its seen side
    assert np.linalg.norm(_centre_error(fitted[0], ball)) < 0.03
    assert records[0].depth[ACROSS_KEY] > 2                      # its box's centre is left of its own centre


def test_the_protocols_layout_stands_it_where_the_backend_did(turned_table) -> None:
    records, layout, _ = _lay_out(turned_table, fit=True)
    again = solve(SIZE, targets_from_records(records), layout.settings)      # Re-layout, Import Run
    extents = tuple(records[0].placement["extents"])
    assert again.place("o0", extents).to_dict()["location"] == pytest.approx(records[0].placement["location"])
    for garbage in ("0.4", float("nan"), 1e308, True, [0.4]):
        records[0].depth = {**records[0].depth, SHIFT_KEY: garbage, ACROSS_KEY: garbage}
        [target] = targets_from_records(records)
        assert (target.shift, target.across) == (0.0, 0.0)


def test_an_object_without_a_surface_in_the_map_is_not_fitted() -> None:
    labels = np.zeros((40, 40), dtype=np.int32)
    labels[10:14, 10:14] = 1                               # 16 pixels: fewer than a fit needs
    points = np.full((40, 40, 3), 2.0, dtype=np.float32)
    assert seen_surface(points, labels, 1) is None
    labels[10:30, 10:30] = 1
    points[..., 2] = np.nan                                # a surface the model did not measure
    assert seen_surface(points, labels, 1) is None
