"""The floor measured in a metric point map (``layout.floor_points``, issue 98) on point maps whose answer is known:
a floor seen by a pitched camera, with a box standing on it and stray points, gives back the camera's pitch and
height; a wall, a sky or too little background gives none; and the layout stands its objects on the floor measured
rather than on the boxes' own fit, in the backend and wherever a run's manifest is laid out again."""

from __future__ import annotations

import math

import numpy as np
import pytest

from img23d_backend.depth.estimator import DepthMap
from img23d_backend.layout.floor_points import floor_of, measured_floor
from img23d_protocol import Manifest
from img23d_protocol.layout import LayoutSettings, LayoutTarget, solve

SIZE, FOCAL = (160, 120), 150.0


def _floor_map(pitch_degrees: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """A point map (camera frame) of a floor ``height`` below a camera pitched ``pitch_degrees`` down, with a box
    0.8 m wide and 1 m tall 4 m ahead covering some pixels (returned as ``covered``); above the horizon, sky."""
    width, rows = SIZE
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(rows) + 0.5)
    ray = np.stack([(u - width / 2) / FOCAL, (v - rows / 2) / FOCAL, np.ones_like(u)], axis=-1)
    s, c = math.sin(math.radians(pitch_degrees)), math.cos(math.radians(pitch_degrees))
    along = c * ray[..., 1] + s * ray[..., 2]       # the floor: c y + s z = height
    with np.errstate(divide="ignore"):
        z = np.where(along > 1e-6, height / along, np.inf)
    points = ray * z[..., None]
    covered = (np.abs(points[..., 0]) < 0.4) & (z > 3.5) & (z < 4.5)
    # The box's own points: on its front face, 4 m ahead, in front of the floor.
    points[covered] = ray[covered] * 3.6
    return points, covered


@pytest.mark.parametrize("pitch, height", [(15.0, 1.5), (-5.0, 0.8), (35.0, 3.0)])
def test_a_floor_seen_by_a_pitched_camera_gives_its_pitch_and_height(pitch: float, height: float) -> None:
    points, covered = _floor_map(pitch, height)
    noise = np.random.default_rng(1).normal(0, 0.003, points.shape)
    stray = np.random.default_rng(2).random(points.shape[:2]) < 0.05   # 5 % of the pixels anywhere
    points = points + noise
    points[stray] = np.random.default_rng(3).uniform(-3, 3, (int(stray.sum()), 3)) + [0, 0, 6]
    floor = floor_of(DepthMap(np.zeros(points.shape[:2], np.float32), "metric", points=points), covered)
    assert floor is not None
    assert math.degrees(floor.pitch) == pytest.approx(pitch, abs=0.3)
    assert floor.elevation == pytest.approx(height, rel=0.01)


def test_no_floor_from_a_wall_a_sky_a_relative_map_or_too_little_background() -> None:
    rows, width = SIZE[1], SIZE[0]
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(rows) + 0.5)
    wall = np.stack([(u - width / 2) / FOCAL * 3, (v - rows / 2) / FOCAL * 3, np.full(u.shape, 3.0)], axis=-1)
    assert measured_floor(wall.reshape(-1, 3)) is None                 # it faces the camera: no floor
    assert measured_floor(np.random.default_rng(0).uniform(-5, 5, (3000, 3)) + [0, 0, 10]) is None
    points, covered = _floor_map(15.0, 1.5)
    assert floor_of(DepthMap(np.zeros(covered.shape, np.float32)), covered) is None   # relative: no points
    assert measured_floor(points.reshape(-1, 3)[:100]) is None
    sky = np.full_like(points, np.nan)
    assert floor_of(DepthMap(np.zeros(covered.shape, np.float32), "metric", points=sky), covered) is None


def test_the_layout_stands_objects_on_the_floor_measured_not_the_boxes_fit() -> None:
    """Two boxes whose bottoms alone would fit a steeper floor: the measured one gives the camera, and both stand
    on it (their contacts within a quarter of their height, or below it)."""
    targets = [LayoutTarget("a", (100, 200, 200, 330), 1 / 4.0), LayoutTarget("b", (400, 150, 450, 260), 1 / 8.0)]
    boxes_only = solve((640, 480), targets, LayoutSettings(metric=True))
    measured = solve((640, 480), targets, LayoutSettings(metric=True, floor=(math.radians(10.0), 1.4)))
    assert math.degrees(measured.camera.pitch) == pytest.approx(10.0) and measured.camera.elevation == 1.4
    assert (boxes_only.camera.pitch, boxes_only.camera.elevation) != (measured.camera.pitch, 1.4)
    assert all(anchor.contact[2] == 0.0 for anchor in measured.anchors.values() if anchor.on_floor)
    # A floor the settings cannot hold (edited by hand, or off the layout's range) is ignored: the boxes decide.
    for bad in ((math.radians(80.0), 1.4), (0.1, -1.0), (float("nan"), 1.0), ("0.1", 1.0), (0.1,)):
        again = solve((640, 480), targets, LayoutSettings(metric=True, floor=bad))  # type: ignore[arg-type]
        assert (again.camera.pitch, again.camera.elevation) == (boxes_only.camera.pitch, boxes_only.camera.elevation)


def test_a_manifests_floor_is_read_checked() -> None:
    recorded = Manifest("job", "generate", "1.0", scene={"floor": {"pitch": 0.2, "elevation": 1.5, "points": 900}})
    assert recorded.measured_floor == (0.2, 1.5)
    for floor in ({"pitch": "0.2", "elevation": 1.5}, {"pitch": 0.2}, [0.2, 1.5], {"pitch": 2.0, "elevation": 1.5}):
        assert Manifest("job", "generate", "1.0", scene={"floor": floor}).measured_floor is None
    assert Manifest("job", "generate", "1.0").measured_floor is None
