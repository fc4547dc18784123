"""The picture as a scene in real Blender: placement from depth, the run's camera, Re-layout, Suggest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from mathutils import Vector  # noqa: E402

TOLERANCE = 0.10   # relative sizes and positions must match within 10%


def _run(operator, **kwargs) -> set[str]:
    """Run an operator, then evaluate the scene: matrix_world follows a transform only then."""
    result = operator(**kwargs)
    bpy.context.view_layer.update()
    return result


def _world_bounds(obj) -> tuple[Vector, Vector]:
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    lo = Vector((min(c.x for c in corners), min(c.y for c in corners), min(c.z for c in corners)))
    hi = Vector((max(c.x for c in corners), max(c.y for c in corners), max(c.z for c in corners)))
    return lo, hi


def _in_camera(camera_matrix, point: Vector) -> Vector:
    """A point in a camera's frame, with z the distance in front of it (Blender cameras look down -Z)."""
    local = camera_matrix.inverted() @ point
    return Vector((local.x, local.y, -local.z))


def _run_camera(collection):
    [camera] = [o for o in collection.objects if o.type == "CAMERA" and o.get("img23d_camera")]
    return camera


def _set_layout(scene, fov_degrees: float, ground: bool = True, estimate: bool = False) -> None:
    """The panel's Placement settings; ``estimate`` off, so that the field of view given is the one used (the
    default depth model, MoGe-2, estimates one)."""
    scene.img23d.fov = math.radians(fov_degrees)
    scene.img23d.ground = ground
    scene.img23d.estimate_fov = estimate


def test_true_depth_places_two_boxes_where_the_picture_shows_them(addon, scene, tmp_path: Path) -> None:
    import depth_scene

    truth = depth_scene.render_truth(tmp_path)
    assert (tmp_path / "input.png").is_file()
    run = depth_scene.write_run(tmp_path, truth)
    _set_layout(scene, depth_scene.FOV_DEGREES)
    assert _run(bpy.ops.img23d.import_run, filepath=str(run)) == {"FINISHED"}
    near, far = bpy.data.objects["near"], bpy.data.objects["far"]
    camera = _run_camera(near.users_collection[0])
    seen = {name: _in_camera(camera.matrix_world, (sum(_world_bounds(o), Vector()) / 2))
            for name, o in (("near", near), ("far", far))}
    known = {name: _in_camera(truth.camera, truth.centres[name]) for name in depth_scene.BOXES}
    # One scale is free (the picture cannot tell it): measure the solved world in the true one's units.
    unit = known["near"].z / seen["near"].z
    assert seen["near"].z < seen["far"].z, "the nearer box must be placed nearer"
    for name in depth_scene.BOXES:
        error = (seen[name] * unit - known[name]).length / known[name].length
        assert error < TOLERANCE, f"{name} is {error:.1%} off where the picture shows it"
        lo, hi = _world_bounds(bpy.data.objects[name])
        size = (hi.z - lo.z) * unit
        assert size == pytest.approx(truth.sizes[name], rel=TOLERANCE), f"{name}'s size"
        assert lo.z == pytest.approx(0.0, abs=1e-4), f"{name} does not stand on the ground plane"
    heights = {name: _world_bounds(bpy.data.objects[name])[1].z - _world_bounds(bpy.data.objects[name])[0].z
               for name in depth_scene.BOXES}
    assert heights["far"] / heights["near"] == pytest.approx(1.5, rel=TOLERANCE)
    # The ground plane is the picture's floor: the solved camera looks down at it as the true one did.
    pitch = math.degrees(math.pi / 2 - camera.rotation_euler.x)
    assert pitch == pytest.approx(depth_scene.CAMERA_PITCH_DEGREES, abs=2.0)
    assert camera.location.z * unit == pytest.approx(depth_scene.CAMERA_LOCATION[2], rel=TOLERANCE)
    assert math.degrees(camera.data.angle) == pytest.approx(depth_scene.FOV_DEGREES, abs=1e-3)


def _generate(scene):
    scene.camera = None
    assert _run(bpy.ops.img23d.generate) == {"FINISHED"}
    [collection] = bpy.data.objects["house"].users_collection
    return collection


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_generate_adds_a_camera_that_sees_each_object_over_its_box(addon, scene) -> None:
    from bpy_extras.object_utils import world_to_camera_view

    collection = _generate(scene)
    camera = _run_camera(collection)
    assert scene.camera == camera and camera.name == "house_scene camera"
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1920, 1920)  # the picture is square
    run = Path(bpy.data.objects["house"]["img23d_run"])
    manifest = json.loads((run / "manifest.json").read_text())
    width, height = manifest["image"]["original_size"]
    for record in (r for r in manifest["records"] if r["status"] == "done"):
        obj = bpy.data.objects[record["target"]]
        corners = [world_to_camera_view(scene, camera, obj.matrix_world @ Vector(c)) for c in obj.bound_box]
        u0, u1 = min(c.x for c in corners) * width, max(c.x for c in corners) * width
        v0, v1 = (1 - max(c.y for c in corners)) * height, (1 - min(c.y for c in corners)) * height
        x0, y0, x1, y1 = record["box"]
        # Its bounds, seen through the camera, fill its box one way and fit inside the other, centred where its
        # mesh's fit to its own points centred it (``across_px``: with the default metric map; 0 without a fit).
        assert u1 - u0 <= x1 - x0 + 1 and v1 - v0 <= y1 - y0 + 1, record["target"]
        assert min(abs((u1 - u0) - (x1 - x0)), abs((v1 - v0) - (y1 - y0))) < 1, record["target"]
        across = record["depth"].get("across_px", 0.0)
        assert (u0 + u1) / 2 == pytest.approx((x0 + x1) / 2 + across, abs=1), record["target"]
        placement = record["placement"]
        assert obj.scale.x == pytest.approx(placement["scale"], rel=1e-4)  # the add-on and backend agree


def test_relayout_follows_the_field_of_view_and_ground_and_matches_a_fresh_import(addon, scene) -> None:
    collection = _generate(scene)
    house = bpy.data.objects["house"]
    run = house["img23d_run"]
    before = {o.name: o.matrix_world.copy() for o in collection.objects}
    scale = house.scale.x
    camera = _run_camera(collection)
    bpy.context.view_layer.objects.active = house
    _set_layout(scene, 80.0)
    assert _run(bpy.ops.img23d.relayout) == {"FINISHED"}
    assert math.degrees(camera.data.angle) == pytest.approx(80.0)
    wider = {o.name: o.matrix_world.copy() for o in collection.objects}
    # The picture spans more of the world: at the distances depth gave, the house is bigger.
    assert house.scale.x > scale * 1.2
    _set_layout(scene, 55.0, ground=False)
    assert _run(bpy.ops.img23d.relayout, run_dir=run) == {"FINISHED"}
    assert camera.rotation_euler.x == pytest.approx(math.pi / 2)  # no floor: a level camera
    _set_layout(scene, 55.0, estimate=True)
    assert _run(bpy.ops.img23d.relayout) == {"FINISHED"}
    for name, matrix in before.items():  # back to the settings it was generated with: back where it was
        assert _same(collection.objects[name].matrix_world, matrix), name
        if collection.objects[name].type == "MESH":
            assert not _same(wider[name], matrix), name
    # A run imported afresh with the wider field of view stands as the re-layout put it.
    _set_layout(scene, 80.0)
    assert _run(bpy.ops.img23d.import_run, filepath=run) == {"FINISHED"}
    imported = [c for c in bpy.data.collections if c is not collection and c.name.startswith("house_scene")]
    fresh = {o.get("img23d_target") or "camera": o.matrix_world for o in imported[-1].objects}
    for obj in collection.objects:
        assert _same(fresh[obj.get("img23d_target") or "camera"], wider[obj.name]), obj.name


def test_relayout_without_a_run_says_what_to_select(addon, scene) -> None:
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="Select an object that img23d made"):
        bpy.ops.img23d.relayout()


def _same(a, b) -> bool:
    return all(abs(x - y) < 1e-5 for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


def test_suggest_fills_the_names_and_turns_all_instances_on(addon, scene) -> None:
    settings = scene.img23d
    settings.targets, settings.all_instances = "", False
    before = set(bpy.data.images)
    assert bpy.ops.img23d.suggest() == {"FINISHED"}
    # The tiny grounding model's fixed answer: two trees, three barrels, two rocks, once each here.
    assert settings.targets == "house, chimney, door, tree, barrel, rock, stairs"
    assert settings.all_instances is True
    [overlay] = set(bpy.data.images) - before
    assert overlay.name.startswith("img23d suggestions") and tuple(overlay.size) == (1024, 1024)
    bpy.data.images.remove(overlay)
