"""bench/scene_truth.py, the layout scored against true scenes (issue 98), on a scene folder made here whose answer
is known: two boxes on the floor seen by a pinhole camera, the depth and masks cast ray by ray (trimesh), no Blender.

- the truth scored as its own prediction is perfect by every figure (IoU-B 1, centre error 0, size 1, yaw 0, no
  gap, no penetration, F1 1), and the rasterizer's masks through the true camera are masks.png's;
- a bad scene folder (a missing file, a mask index no object names, a depth of the wrong size or with NaN, a mesh
  that is not a mesh) is one sentence naming the scene and the file, and the other scenes are still scored;
- the command's JSON holds the figures the issue names, per scene and per object.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from testdata import REPO

sys.path.insert(0, str(REPO / "bench"))

import scene_scores  # noqa: E402  (bench/scene_scores.py)
import scene_truth  # noqa: E402  (bench/scene_truth.py)
from scene_folder import SceneError, read_scene  # noqa: E402  (bench/scene_folder.py)

SIZE = (96, 72)
FOV = 50.0
HEIGHT, PITCH = 1.5, 15.0
BOXES = {"crate": ((0.8, 0.6, 0.9), (-0.5, 4.0), 20.0), "tall": ((0.4, 0.4, 1.4), (0.7, 5.0), -10.0)}


def _camera_turn() -> np.ndarray:
    tilt = math.pi / 2 - math.radians(PITCH)
    return np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]])


def _write_scene(root: Path) -> Path:
    """Two boxes standing on the floor (each a GLB in its own glTF frame), cast through the camera pixel by pixel."""
    (root / "meshes").mkdir(parents=True)
    width, height = SIZE
    focal = width / 2 / math.tan(math.radians(FOV) / 2)
    worlds, objects = [], []
    for index, (name, (extents, (x, y), yaw)) in enumerate(BOXES.items(), start=1):
        local = trimesh.creation.box(extents=extents)  # Blender's frame: Z up, about its centre
        local.apply_translation((0, 0, extents[2] / 2))
        gltf = local.copy()
        gltf.vertices = local.vertices @ np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]).T  # Blender -> glTF
        gltf.export(root / "meshes" / f"{name}.glb")
        turn = np.eye(4)
        c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
        turn[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        turn[:3, 3] = (x, y, 0)
        world = local.copy()
        world.apply_transform(turn)
        worlds.append(world)
        objects.append({"name": name, "index": index, "matrix_world": turn.tolist(), "mesh": f"meshes/{name}.glb",
                        "support": "floor"})
    floor = trimesh.creation.box(extents=(100, 100, 0.01))
    floor.apply_translation((0, 0, -0.005))
    scene = trimesh.util.concatenate([*worlds, floor])
    owner = np.concatenate([np.full(len(w.faces), i + 1) for i, w in enumerate(worlds)] + [np.zeros(len(floor.faces))])
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays = np.stack([(u - width / 2) / focal, (v - height / 2) / focal, np.ones_like(u)], axis=-1).reshape(-1, 3)
    turn = _camera_turn()
    origins = np.tile([0.0, 0.0, HEIGHT], (len(rays), 1))
    directions = (rays * [1, -1, -1]) @ turn.T
    where, ray, face = scene.ray.intersects_location(origins, directions, multiple_hits=False)
    depth = np.full(len(rays), np.inf)
    masks = np.zeros(len(rays), dtype=np.uint8)
    depth[ray] = ((where - origins[ray]) @ turn @ np.diag([1, -1, -1]))[:, 2]
    masks[ray] = owner[face]
    np.save(root / "depth.npy", depth.reshape(height, width).astype(np.float32))
    Image.fromarray(masks.reshape(height, width), "L").save(root / "masks.png")
    Image.new("RGB", SIZE, "grey").save(root / "picture.png")
    record = {"camera": {"fov_degrees": FOV, "fov_across": "width", "height": HEIGHT, "pitch_degrees": PITCH,
                         "resolution": list(SIZE), "location": [0, 0, HEIGHT]}, "objects": objects}
    (root / "scene.json").write_text(json.dumps(record), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def scene_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_scene(tmp_path_factory.mktemp("scenes") / "two_boxes")


def test_the_truth_scored_as_its_own_prediction_is_perfect(scene_root: Path) -> None:
    scene = read_scene(scene_root)
    truth = {item.name: scene.camera.to_camera(item.world) for item in scene.objects}
    for item in scene.objects:
        points = scene_scores.surface(truth[item.name], item.faces)
        box = scene_scores.box_of(truth[item.name])
        assert scene_scores.iou_b(box, box) == pytest.approx(1.0)
        assert scene_scores.yaw_between(scene.camera.to_world(points), scene.camera.to_world(points)) == \
            pytest.approx(0.0, abs=1e-9)
        # The object stands on the floor: the gap to it is the mesh's lowest point, 0.
        assert scene_truth._gap(item.name, "floor", {item.name: item.world}, {item.name: item.faces}, 1000) == \
            pytest.approx(0.0, abs=1e-6)
    # One box set on the other's top: the gap to its support's surface sampled under its footprint is 0 (the
    # support's vertices are its corners, none under a smaller box's footprint).
    low, high = scene.objects
    top = float(low.world[:, 2].max())
    small = (high.world - high.world.mean(axis=0)) * 0.3 + [*low.world[:, :2].mean(axis=0), 0.0]
    small[:, 2] += top - small[:, 2].min()
    world, faces = {"low": low.world, "small": small}, {"low": low.faces, "small": high.faces}
    assert scene_truth._gap("small", "low", world, faces, 20000) == pytest.approx(0.0, abs=1e-6)
    both = np.concatenate([scene_scores.surface(truth[n], scene.objects[i].faces) for i, n in enumerate(truth)])
    scores = scene_scores.chamfer_f(both, both, (0.1, 0.05))
    assert scores["chamfer_m"] == 0 and scores["f1_0.1"] == 1.0
    assert scene_scores.best_scale(both, both) == pytest.approx(1.0, rel=1e-3)
    # The rasterizer's masks through the true camera are the ray-cast masks.png (edges aside, at 96 x 72).
    seen = scene_truth.visible({item.name: (truth[item.name], item.faces) for item in scene.objects},
                               scene.camera.focal_px, scene.camera.resolution)
    for item in scene.objects:
        assert scene_truth._iou(seen[item.name], scene.mask(item)) > 0.85


def test_a_known_turn_and_scale_are_read_back() -> None:
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.8))
    points = scene_scores.surface(box.vertices, box.faces)
    c, s = math.cos(math.radians(25)), math.sin(math.radians(25))
    turned = (points * 1.3) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + [2.0, 1.0, 0.0]
    assert scene_scores.yaw_between(points, turned) == pytest.approx(25.0, abs=1e-6)
    assert scene_scores.rms_radius(turned) / scene_scores.rms_radius(points) == pytest.approx(1.3)
    assert scene_scores.best_scale(points * 0.8 + [0, 0, 5], points + [0, 0, 6.25]) == pytest.approx(1.25, rel=1e-2)


DAMAGES = {
    "no_masks": (lambda root: (root / "masks.png").unlink(), "masks.png is missing"),
    "stray_index": (lambda root: Image.fromarray(np.full((SIZE[1], SIZE[0]), 9, np.uint8), "L").save(
        root / "masks.png"), "masks.png holds index 9, which no object in scene.json names"),
    "small_depth": (lambda root: np.save(root / "depth.npy", np.ones((10, 10), np.float32)),
                    "depth.npy is (10, 10) pixels"),
    "nan_depth": (lambda root: np.save(root / "depth.npy", np.full((SIZE[1], SIZE[0]), np.nan, np.float32)),
                  "depth.npy holds 6,912 NaN values"),
    "no_mesh": (lambda root: (root / "meshes" / "crate.glb").write_bytes(b"glTF no mesh here"),
                "meshes/crate.glb is not a mesh"),
}


def test_bad_scene_folders_are_one_sentence_each_and_the_good_one_is_scored(
        scene_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenes = tmp_path / "scenes"
    shutil.copytree(scene_root, scenes / "good")
    for name, (damage, said) in DAMAGES.items():
        shutil.copytree(scene_root, scenes / name)
        damage(scenes / name)
        with pytest.raises(SceneError, match=f"^{name}: " + re.escape(said)):
            read_scene(scenes / name)
    assert scene_truth.main(["--scenes", str(scenes), "--inputs", "relative", "--shift", "0.1", "--samples", "3000",
                             "--json", str(tmp_path / "out.json")]) == 0
    result = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    said = capsys.readouterr().err
    assert list(result["scenes"]) == ["good"] and len(result["errors"]) == len(DAMAGES)
    for name, (_, sentence) in DAMAGES.items():
        assert any(error.startswith(f"{name}: {sentence}") for error in result["errors"]) and sentence in said
    # The JSON holds every figure the issue names, per object and per scene.
    assert result["inputs"] == "relative" and result["shift"] == 0.1
    scene = result["scenes"]["good"]
    for figures in scene["objects"].values():
        assert {"bbox_camera", "centre_error_m", "centre_error_pct", "size_ratio", "yaw_error_deg", "iou_b",
                "support_gap_m", "penetration_pct", "mask_iou"} <= set(figures)
        assert np.shape(figures["bbox_camera"]) == (2, 3)
        assert figures["truth_mask_iou"] > 0.85
    assert {"chamfer_m", "f1_0.1", "f1_0.05"} <= set(scene["metric"]) <= set(scene["best_scale"])
    assert {"chamfer_squared_sum", "f_0.1"} == set(scene["midi"])
    assert result["summary"]["objects"] == 2


def test_perfect_metric_inputs_put_two_boxes_where_they_are(scene_root: Path, tmp_path: Path) -> None:
    """Known answer through the product's path: the true depth's points give the floor (pitch and height), the
    distances are kept, and two plain boxes standing on the floor come out where they stand, at their size."""
    assert scene_truth.main(["--scenes", str(scene_root.parent), "--inputs", "metric", "--samples", "3000",
                             "--json", str(tmp_path / "out.json")]) == 0
    scene = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["scenes"]["two_boxes"]
    assert scene["camera"]["pitch_degrees"] == pytest.approx(PITCH, abs=0.5)
    assert scene["camera"]["height_m"] == pytest.approx(HEIGHT, rel=0.02)
    for name, figures in scene["objects"].items():
        assert figures["centre_error_pct"] < 5, (name, figures)
        assert 0.85 < figures["size_ratio"] < 1.1 and abs(figures["support_gap_m"]) < 0.03, (name, figures)
