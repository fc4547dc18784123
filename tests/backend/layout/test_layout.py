"""The projection and floor math (``layout.py``, stdlib only) on scenes built from known geometry."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from img23d_protocol import TargetRecord
from img23d_protocol.layout import (Camera, LayoutSettings, LayoutTarget, place, resolve_fov, solve,
                                   targets_from_records)

SIZE = (640, 480)
TRUE = Camera(*SIZE, fov_degrees=50.0, pitch=math.radians(12.0), elevation=1.6)


def _facing(centre: tuple[float, float]) -> float:
    return math.atan2(-centre[0], centre[1])


def _corners(centre: tuple[float, float, float], size: tuple[float, float, float], yaw: float) -> list:
    """Eight corners of a box whose bottom centre is ``centre``, turned by ``yaw``."""
    w, d, h = size
    c, s = math.cos(yaw), math.sin(yaw)
    return [(centre[0] + c * dx - s * dy, centre[1] + s * dx + c * dy, centre[2] + dz)
            for dx in (-w / 2, w / 2) for dy in (-d / 2, d / 2) for dz in (0.0, h)]


def _picture_of(camera: Camera, key: str, centre, size, bottom: float = 0.0) -> tuple[LayoutTarget, dict]:
    """The box a camera sees of an upright box, and its disparity (1 / depth of its front's middle)."""
    yaw = _facing(centre[:2])
    pixels = [camera.project(p) for p in _corners((centre[0], centre[1], bottom), size, yaw)]
    us, vs = [p[0] for p in pixels], [p[1] for p in pixels]
    reach = math.hypot(centre[0], centre[1])
    front = (centre[0] - centre[0] / reach * size[1] / 2, centre[1] - centre[1] / reach * size[1] / 2,
             bottom + size[2] / 2)
    depth = camera.to_camera(front)[2]
    truth = {"centre": (centre[0], centre[1], bottom), "size": size, "yaw": yaw}
    return LayoutTarget(key, (min(us), min(vs), max(us), max(vs)), 1.0 / depth), truth


def _scene():
    near, near_truth = _picture_of(TRUE, "near", (-0.8, 5.0), (1.0, 1.0, 1.0))
    far, far_truth = _picture_of(TRUE, "far", (1.3, 9.0), (1.5, 1.5, 1.5))
    return [near, far], {"near": near_truth, "far": far_truth}


def _relative(camera: Camera, point) -> tuple[float, float, float]:
    """A world point in a camera's frame, as seen by that camera."""
    return camera.to_camera(point)


def test_camera_frames_are_inverse_and_the_axis_meets_the_centre() -> None:
    point = (0.3, 4.0, -0.7)
    back = TRUE.to_camera(TRUE.to_world(point))
    assert back == pytest.approx(point)
    ahead = TRUE.to_world((0.0, 0.0, 6.0))
    assert TRUE.project(ahead) == pytest.approx((320.0, 240.0))
    assert ahead[2] < TRUE.elevation  # pitched down: the axis falls
    assert TRUE.project((0.0, -1.0, 1.6)) is None  # behind the camera
    assert TRUE.focal == pytest.approx(320 / math.tan(math.radians(25)))
    assert TRUE.rotation_euler == pytest.approx((math.radians(78), 0.0, 0.0))


def test_two_boxes_on_a_floor_come_back_where_they_stood() -> None:
    targets, truth = _scene()
    scene = solve(SIZE, targets, LayoutSettings(fov_degrees=50.0))
    assert scene.camera.pitch == pytest.approx(TRUE.pitch, abs=math.radians(1.5))
    near = place(scene, "near", (1.0, 1.0, 1.0))   # both meshes are unit cubes: the scale is the size
    far = place(scene, "far", (1.0, 1.0, 1.0))
    assert near.on_floor and far.on_floor and near.location[2] == far.location[2] == 0.0
    assert near.distance < far.distance
    # One scale is free: compare after scaling the solved world to the true one.
    unit = truth["near"]["centre"][1] / near.location[1]
    for placed, known in ((near, truth["near"]), (far, truth["far"])):
        seen = _relative(scene.camera, placed.location)
        expected = _relative(TRUE, known["centre"])
        assert [v * unit for v in seen] == pytest.approx(list(expected), rel=0.03, abs=0.05)
        assert placed.yaw == pytest.approx(known["yaw"], abs=math.radians(2))
    assert near.scale * unit == pytest.approx(1.0, rel=0.03)
    assert far.scale * unit == pytest.approx(1.5, rel=0.03)
    assert scene.camera.elevation * unit == pytest.approx(TRUE.elevation, rel=0.03)


def test_a_placed_mesh_projects_onto_its_box() -> None:
    targets, _ = _scene()
    scene = solve(SIZE, targets, LayoutSettings(fov_degrees=50.0))
    extents = (0.6, 0.9, 1.4)   # a mesh of other proportions than the box it was seen in
    placement = place(scene, "far", extents)
    corners = _corners(placement.location, tuple(placement.scale * e for e in extents), placement.yaw)
    pixels = [scene.camera.project(p) for p in corners]
    us, vs = [p[0] for p in pixels], [p[1] for p in pixels]
    x0, y0, x1, y1 = scene.anchors["far"].box
    width, height = max(us) - min(us), max(vs) - min(vs)
    assert width <= x1 - x0 + 1e-3 and height <= y1 - y0 + 1e-3
    assert max((x1 - x0) - width, (y1 - y0) - height) > 1.0       # not stretched to fill both
    assert min((x1 - x0) - width, (y1 - y0) - height) < 1e-3      # but touching in one direction
    assert abs(max(vs) - y1) < 1.0                                # standing on its box's bottom


def test_something_above_the_floor_keeps_its_height() -> None:
    targets, _ = _scene()
    lamp, _ = _picture_of(TRUE, "lamp", (0.2, 7.0), (0.4, 0.4, 0.4), bottom=1.0)
    scene = solve(SIZE, [*targets, lamp], LayoutSettings(fov_degrees=50.0))
    assert {k for k, a in scene.anchors.items() if a.on_floor} == {"near", "far"}
    unit = 5.0 / place(scene, "near", (1.0, 1.0, 1.0)).location[1]
    assert place(scene, "lamp", (0.4, 0.4, 0.4)).location[2] * unit == pytest.approx(1.0, abs=0.08)


def test_without_the_ground_the_camera_is_level_and_nothing_is_snapped() -> None:
    targets, _ = _scene()
    scene = solve(SIZE, targets, LayoutSettings(fov_degrees=50.0, ground=False))
    assert scene.camera.pitch == 0.0
    assert not any(anchor.on_floor for anchor in scene.anchors.values())
    assert min(anchor.contact[2] for anchor in scene.anchors.values()) == pytest.approx(0.0, abs=1e-9)


def test_distances_follow_disparity_and_the_nearest_sets_the_scale() -> None:
    targets = [LayoutTarget("a", (100, 100, 200, 300), 2.0), LayoutTarget("b", (300, 100, 350, 200), 1.0),
               LayoutTarget("unknown", (400, 100, 450, 200), None), LayoutTarget("sky", (0, 0, 10, 10), 1e-6)]
    scene = solve(SIZE, targets, LayoutSettings(near_distance=3.0, ground=False))
    distances = {key: anchor.distance for key, anchor in scene.anchors.items()}
    assert distances["a"] == pytest.approx(3.0) and distances["b"] == pytest.approx(6.0)
    assert distances["unknown"] == pytest.approx(6.0)         # the median disparity stands in
    assert distances["sky"] == pytest.approx(3.0 * 25)        # clamped, not at infinity
    flat = solve(SIZE, [LayoutTarget("a", (0, 0, 10, 10)), LayoutTarget("b", (20, 0, 30, 10))], LayoutSettings())
    assert {a.distance for a in flat.anchors.values()} == {4.0}


@pytest.mark.parametrize("scale", [1e-300, 1e300, 1e308 / 2])
def test_distances_are_the_same_whatever_the_disparities_scale(scale: float) -> None:
    """Disparity is relative: any scale gives the same scene. A manifest's 1e308 gave every object a NaN place
    (near * 1e308 overflowed), which relayout.json carried to the add-on."""
    disparities = {"a": 2.0, "b": 1.0, "c": 0.5, "d": 0.5}
    targets = [LayoutTarget(key, (100 * n, 100, 100 * n + 50, 300), value * scale)
               for n, (key, value) in enumerate(disparities.items())]
    scene = solve(SIZE, targets, LayoutSettings(near_distance=3.0))
    distances = {key: anchor.distance for key, anchor in scene.anchors.items()}
    assert distances == pytest.approx({"a": 3.0, "b": 6.0, "c": 12.0, "d": 12.0})
    placed = [scene.place(key, (1.0, 1.0, 1.0)) for key in disparities]
    assert all(math.isfinite(v) for p in placed for v in (*p.location, p.scale)), placed


def test_metric_disparities_keep_every_distance_as_measured() -> None:
    """A metric depth model's statistic is 1 / z in 1 / m: no nearest-at-4-m then, each object where it was measured
    (issue 98), one without a statistic at the others' median, a sky-like one clamped as before."""
    targets = [LayoutTarget("a", (100, 100, 200, 300), 1 / 2.5), LayoutTarget("b", (300, 100, 350, 200), 1 / 7.0),
               LayoutTarget("unknown", (400, 100, 450, 200), None), LayoutTarget("sky", (0, 0, 10, 10), 1e-9)]
    settings = LayoutSettings(ground=False, metric=True)
    distances = {key: anchor.distance for key, anchor in solve(SIZE, targets, settings).anchors.items()}
    assert distances["a"] == pytest.approx(2.5) and distances["b"] == pytest.approx(7.0)
    assert distances["unknown"] == pytest.approx(7.0) and distances["sky"] == pytest.approx(2.5 * 25)
    assert settings.scale.startswith("metric") and LayoutSettings().scale.startswith("relative: the nearest")
    # The same statistics read as relative put the nearest at 4 m: the ratios alone are kept.
    relative = solve(SIZE, targets, LayoutSettings(ground=False))
    assert relative.anchors["a"].distance == pytest.approx(4.0) and relative.anchors["b"].distance == \
        pytest.approx(4.0 * 7.0 / 2.5)


@pytest.mark.parametrize("disparity", [1e308, 1e-308])
def test_a_hand_edited_metric_statistic_gives_a_finite_scene(disparity: float) -> None:
    scene = solve(SIZE, [LayoutTarget("a", (100, 100, 200, 300), disparity)], LayoutSettings(metric=True))
    placed = scene.place("a", (1.0, 1.0, 1.0))
    assert 0.01 <= scene.anchors["a"].distance <= 1e5
    assert all(math.isfinite(v) for v in (*placed.location, placed.scale))


def test_a_metric_scene_through_the_camera_is_the_true_one() -> None:
    """Boxes seen by a known camera with their true metric disparities: each placed at its true place and size."""
    seen = [_picture_of(TRUE, "near", (-0.8, 3.0), (0.6, 0.6, 1.0)),
            _picture_of(TRUE, "far", (1.0, 7.5), (1.2, 0.8, 2.0)),
            _picture_of(TRUE, "mid", (0.2, 5.0), (0.9, 0.9, 0.9))]
    scene = solve(SIZE, [target for target, _ in seen], LayoutSettings(fov_degrees=50.0, metric=True))
    assert math.degrees(scene.camera.pitch) == pytest.approx(12.0, abs=0.5)
    assert scene.camera.elevation == pytest.approx(1.6, rel=0.03)
    for target, truth in seen:
        placed = scene.place(target.key, truth["size"])
        assert placed.scale == pytest.approx(1.0, rel=0.05)
        assert math.dist(placed.location, truth["centre"]) < 0.05 * math.hypot(*truth["centre"][:2])


def test_a_wider_field_of_view_brings_objects_nearer_the_axis_and_smaller() -> None:
    targets, _ = _scene()
    narrow = solve(SIZE, targets, LayoutSettings(fov_degrees=40.0))
    wide = solve(SIZE, targets, LayoutSettings(fov_degrees=80.0))
    assert wide.camera.focal < narrow.camera.focal
    assert place(wide, "far", (1, 1, 1)).scale > place(narrow, "far", (1, 1, 1)).scale
    with pytest.raises(ValueError):
        solve(SIZE, targets, LayoutSettings(fov_degrees=0.0))


def test_the_estimate_wins_only_when_there_is_one_and_it_is_wanted() -> None:
    assert resolve_fov(55.0, None, True) == 55.0
    assert resolve_fov(55.0, 70.0, True) == 70.0
    assert resolve_fov(55.0, 70.0, False) == 55.0


def test_targets_come_from_the_measured_records_of_a_manifest() -> None:
    records = [TargetRecord.from_dict(record) for record in (
        {"target": "house", "stem": "house", "box": [1, 2, 3, 4], "depth": {"disparity": 0.5, "pixels": 10}},
        {"target": "door", "stem": "door", "box": [1, 2, 3, 4], "depth": {"disparity": None, "pixels": 0}},
        {"target": "rock", "stem": "rock", "box": [1, 2, 3, 4], "depth": None, "status": "failed"},  # matting failed
        {"target": "unicorn", "stem": "unicorn", "box": None, "status": "failed"})]
    assert targets_from_records(records) == [LayoutTarget("house", (1.0, 2.0, 3.0, 4.0), 0.5),
                                             LayoutTarget("door", (1.0, 2.0, 3.0, 4.0), None)]
    before_depth = [replace(record, depth=None) for record in records]
    assert [t.key for t in targets_from_records(before_depth)] == ["house", "door", "rock"]


def test_what_stands_on_the_floor_keeps_its_place_in_the_picture() -> None:
    targets, _ = _scene()
    shifted = [LayoutTarget(t.key, t.box, t.disparity * factor) for t, factor in zip(targets, (1.0, 0.93))]
    scene = solve(SIZE, shifted, LayoutSettings(fov_degrees=50.0))   # the far one's depth is 7% off
    for target in shifted:
        anchor = scene.anchors[target.key]
        assert anchor.on_floor and anchor.contact[2] == 0.0
        x0, _, x1, y1 = target.box
        assert scene.camera.project(anchor.contact) == pytest.approx(((x0 + x1) / 2, y1), abs=1e-6)


def test_layout_imports_only_the_standard_library() -> None:
    """The add-on loads layout.py into Blender's Python, as it loads protocol.py: it and the protocol modules it
    imports (its floor, ``layout_floor``) import the standard library alone, and nothing of the backend."""
    import ast
    import sys
    from pathlib import Path

    from img23d_protocol import layout

    folder = Path(layout.__file__).parent
    pending, seen = ["layout"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        modules = []
        for node in ast.walk(ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and node.module, f"{name}.py reaches out of the protocol package"
                pending += [node.module] if node.module not in seen else []
            elif isinstance(node, ast.ImportFrom):
                modules.append(node.module)
        assert all(m.split(".")[0] in (*sys.stdlib_module_names, "__future__") for m in modules), (name, modules)
    assert seen == {"layout", "layout_floor"}


@pytest.mark.parametrize("disparity", ["0.9", [0.9], True, {"x": 1}])
def test_a_disparity_edited_into_no_number_stands_its_target_as_one_without(disparity: object) -> None:
    """A manifest edited by hand ("disparity": "0.9") stopped Import Run and Re-layout with a TypeError traceback."""
    records = [TargetRecord.from_dict(record) for record in (
        {"target": "house", "stem": "house", "box": [1, 2, 3, 4], "depth": {"disparity": 0.5}},
        {"target": "door", "stem": "door", "box": [1, 2, 3, 4], "depth": {"disparity": disparity}})]
    targets = targets_from_records(records)
    assert targets[1].disparity is None
    assert solve((640, 480), targets, LayoutSettings()).camera is not None


@pytest.mark.parametrize("fov", [55.0, 120.0, 150.0])
@pytest.mark.parametrize("box", [(20.0, 300.0, 120.0, 470.0), (500.0, 40.0, 630.0, 200.0),
                                 (280.0, 200.0, 360.0, 300.0)])
def test_at_any_field_of_view_a_placed_mesh_is_centred_on_its_box_and_fits_it(fov: float, box) -> None:
    """Known answer: the placed bounds, seen through the solved camera, are centred across the box and fit
    it in one direction (the slide once ran away past 100 degrees: a house 8,000 km across at 140)."""
    for ground in (True, False):
        scene = solve(SIZE, [LayoutTarget("object", box, 0.5)], LayoutSettings(fov_degrees=fov, ground=ground))
        extents = (1.0, 0.8, 1.2)
        placement = place(scene, "object", extents)
        corners = _corners(placement.location, tuple(placement.scale * e for e in extents), placement.yaw)
        pixels = [scene.camera.project(p) for p in corners]
        us, vs = [p[0] for p in pixels], [p[1] for p in pixels]
        x0, y0, x1, y1 = box
        assert (min(us) + max(us)) / 2 == pytest.approx((x0 + x1) / 2, abs=1e-3)
        assert max((max(us) - min(us)) / (x1 - x0), (max(vs) - min(vs)) / (y1 - y0)) == pytest.approx(1.0, abs=1e-6)
        assert placement.scale < 10.0  # a metre-sized box seen 4 m away


@pytest.mark.parametrize("box", [(20.0, 300.0, 120.0, 470.0), (500.0, 40.0, 630.0, 200.0), (0.0, 0.0, 640.0, 480.0)])
def test_at_the_widest_field_of_view_nothing_runs_away(box) -> None:
    """At 170 degrees a box at the edge may have no fit (its bounds would reach behind the camera): the
    placement stays near its first estimate, never kilometres across (4e12 m at 150 degrees before)."""
    for ground in (True, False):
        scene = solve(SIZE, [LayoutTarget("object", box, 0.5)], LayoutSettings(fov_degrees=170.0, ground=ground))
        placement = place(scene, "object", (1.0, 0.8, 1.2))
        assert 0.0 < placement.scale < 100.0 and max(abs(v) for v in placement.location) < 100.0


def test_a_lamp_seen_from_below_leaves_the_camera_above_the_floor() -> None:
    lamp = LayoutTarget("lamp", (280.0, 40.0, 360.0, 160.0), 0.8)  # its bottom above the picture's middle
    for ground in (True, False):
        scene = solve(SIZE, [lamp], LayoutSettings(fov_degrees=50.0, ground=ground))
        assert scene.camera.elevation >= 0.0
        anchor = scene.anchors["lamp"]
        assert not anchor.on_floor and anchor.contact[2] > 0.0  # above the camera's level, not at Z = 0
        assert scene.camera.project(anchor.contact) == pytest.approx((320.0, 160.0), abs=1e-6)


def test_one_on_the_floor_whose_line_of_sight_misses_it_keeps_its_place_in_the_picture() -> None:
    """A floor under the bench and the tree (within its tolerance) whose horizon passes just under the tree's
    box: the tree's line of sight never meets the floor. Dropped to Z = 0 it left its box by 19 px; it keeps
    the height its depth gives instead, and every contact stays on its box's bottom centre."""
    targets = [LayoutTarget("tree", (660, 220, 817, 372), 0.735), LayoutTarget("bench", (721, 149, 822, 387), 0.534),
               LayoutTarget("sign", (835, 157, 867, 287), 0.575), LayoutTarget("cloud", (106, 122, 460, 300), 0.806)]
    scene = solve((1000, 750), targets, LayoutSettings(fov_degrees=55.0))
    assert scene.anchors["bench"].on_floor and not scene.anchors["tree"].on_floor
    for target in targets:
        x0, _, x1, y1 = target.box
        assert scene.camera.project(scene.anchors[target.key].contact) == pytest.approx(((x0 + x1) / 2, y1), abs=1e-6)


def test_a_scene_with_nothing_in_it_is_a_level_camera_on_the_floor() -> None:
    """No target left to place (none of the names found): the camera's height came from ``max(0.0)``, a TypeError
    that ended the job as an internal error instead of 'none of the names was found'."""
    for ground in (True, False):
        scene = solve(SIZE, [], LayoutSettings(ground=ground))
        assert scene.camera.elevation == 0.0 and scene.camera.pitch == 0.0 and scene.anchors == {}

