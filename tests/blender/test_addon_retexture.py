"""Re-texturing the artist's own mesh in real Blender with the tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import pbr_images  # noqa: E402
from testdata import MESH, MESH_FACES, MESH_VERTICES, SUBJECT  # noqa: E402


@pytest.fixture
def paint_scene(scene):
    settings = scene.img23d
    settings.image_path = str(SUBJECT)
    settings.texture = True
    settings.texture_size, settings.paint_steps, settings.delight_steps = 256, 2, 2
    return scene


def _select_only(obj) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def _loop_uvs(mesh, layer_name: str) -> np.ndarray:
    uvs = np.empty(len(mesh.loops) * 2, dtype=np.float32)
    mesh.uv_layers[layer_name].data.foreach_get("uv", uvs)
    return uvs.reshape(-1, 2)


def _texture_sizes(obj) -> list[tuple[int, int]]:
    """The sizes of the new material's images: its colour and, with PBR materials on (the default),
    its metallic-roughness map, wired as Blender's glTF importer wires a Generate's objects."""
    material = obj.data.materials[0]
    colour, maps = pbr_images(material)
    assert maps.colorspace_settings.name == "Non-Color" and colour.colorspace_settings.name != "Non-Color"
    return [tuple(n.image.size) for n in material.node_tree.nodes if n.type == "TEX_IMAGE" and n.image]


def test_a_shape_models_kind_of_mesh_gets_uvs_and_a_texture_and_stays_itself(addon, paint_scene) -> None:
    bpy.ops.import_scene.gltf(filepath=str(MESH))
    obj = next(o for o in bpy.context.selected_objects if o.type == "MESH")
    obj.name = "statue"
    obj.location = (1.0, 2.0, 3.0)
    obj.rotation_euler = (0.1, 0.2, 0.3)
    before = (len(obj.data.vertices), len(obj.data.polygons), tuple(obj.location), tuple(obj.rotation_euler),
              obj.parent)
    assert not obj.data.uv_layers
    _select_only(obj)
    assert bpy.ops.img23d.retexture() == {"FINISHED"}
    assert obj.name == "statue" and bpy.data.objects["statue"] is obj
    assert (len(obj.data.vertices), len(obj.data.polygons)) == before[:2] == (MESH_VERTICES, MESH_FACES)
    assert (tuple(obj.location), tuple(obj.rotation_euler), obj.parent) == before[2:]
    assert [layer.name for layer in obj.data.uv_layers] == ["img23d"]
    uvs = _loop_uvs(obj.data, "img23d")
    assert 0 <= uvs.min() and uvs.max() <= 1 and uvs.std() > 0.05
    assert _texture_sizes(obj) == [(256, 256), (256, 256)]


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_uv_sphere_keeps_its_uv_map_exactly(addon, paint_scene) -> None:
    bpy.ops.mesh.primitive_uv_sphere_add(segments=32, ring_count=16)
    obj = bpy.context.active_object
    original = obj.data.materials[:] if obj.data.materials else []
    bpy.ops.object.modifier_add(type="SUBSURF")
    uv_before = _loop_uvs(obj.data, obj.data.uv_layers.active.name).copy()
    counts = (len(obj.data.vertices), len(obj.data.polygons))
    _select_only(obj)
    assert bpy.ops.img23d.retexture() == {"FINISHED"}
    assert [layer.name for layer in obj.data.uv_layers] == ["UVMap"]
    assert np.array_equal(_loop_uvs(obj.data, "UVMap"), uv_before)
    assert (len(obj.data.vertices), len(obj.data.polygons)) == counts
    assert [m.type for m in obj.modifiers] == ["SUBSURF"]
    assert _texture_sizes(obj) == [(256, 256), (256, 256)]
    # Both maps read the artist's own UV map.
    images = [n for n in obj.data.materials[0].node_tree.nodes if n.type == "TEX_IMAGE"]
    assert {n.inputs["Vector"].links[0].from_node.uv_map for n in images} == {"UVMap"}
    assert original == []


def test_a_mesh_far_over_the_face_budget_is_painted_through_a_proxy_and_keeps_its_faces(addon, paint_scene) -> None:
    # 20 times the budget: the proxy path, at a size that keeps the test quick on a 2-core CPU.
    bpy.ops.mesh.primitive_uv_sphere_add(segments=200, ring_count=160)
    obj = bpy.context.active_object
    faces = len(obj.data.polygons)
    triangles = sum(len(p.vertices) - 2 for p in obj.data.polygons)
    assert triangles > 20 * 3000
    paint_scene.img23d.face_budget = 3000
    _select_only(obj)
    assert bpy.ops.img23d.retexture() == {"FINISHED"}
    assert len(obj.data.polygons) == faces
    assert _texture_sizes(obj) == [(256, 256), (256, 256)]
    texture = obj.data.materials[0].node_tree.nodes["Image Texture"].image.filepath
    manifest = json.loads((Path(bpy.path.abspath(texture)).parent / "manifest.json").read_text())
    assert {"proxy", "transfer"} <= set(manifest["timings"])


@pytest.mark.parametrize("selection, message", [
    ("nothing", "Nothing is selected"),
    ("camera", "is a camera, not a mesh"),
    ("two", "2 objects are selected"),
    ("empty_mesh", "has no faces"),
    ("edit_mode", "is in Edit Mode: go back to Object Mode to re-texture it"),  # was a foreach_get traceback
])
def test_bad_selections_are_reported(addon, paint_scene, selection: str, message: str) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    if selection in ("camera", "empty_mesh"):  # a camera, or a mesh without faces, alone
        lone = bpy.data.objects.new(selection, bpy.data.cameras.new("cam") if selection == "camera"
                                    else bpy.data.meshes.new("hollow"))
        paint_scene.collection.objects.link(lone)
        _select_only(lone)
    elif selection == "two":
        bpy.ops.mesh.primitive_cube_add()
        first = bpy.context.active_object
        bpy.ops.mesh.primitive_cube_add(location=(3, 0, 0))
        first.select_set(True)
    elif selection == "edit_mode":
        bpy.ops.mesh.primitive_cube_add()
        bpy.ops.object.mode_set(mode="EDIT")
    else:
        bpy.context.view_layer.objects.active = None
    try:
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.img23d.retexture()
    finally:
        if bpy.context.object is not None and bpy.context.object.mode == "EDIT":
            bpy.ops.object.mode_set(mode="OBJECT")


# Last in the file: undo rebuilds Blender's data, and references held elsewhere go stale.
@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_undo_restores_the_previous_material(addon, paint_scene) -> None:
    bpy.ops.mesh.primitive_uv_sphere_add(segments=16, ring_count=8)
    obj = bpy.context.active_object
    old = bpy.data.materials.new("artist's paint")
    obj.data.materials.append(old)
    _select_only(obj)
    name = obj.name
    bpy.ops.ed.undo_push(message="before re-texture")
    # undo=True: the operator's step is pushed as when an artist presses the button.
    assert bpy.ops.img23d.retexture("EXEC_DEFAULT", True) == {"FINISHED"}
    assert obj.data.materials[0].name.startswith("img23d")
    assert json.loads(obj.data["img23d_previous_materials"]) == [["artist's paint"]]
    assert bpy.data.materials["artist's paint"].use_fake_user  # kept, not deleted
    bpy.ops.ed.undo()
    restored = bpy.data.objects[name]  # undo rebuilds the data: earlier references are stale
    assert [m.name for m in restored.data.materials] == ["artist's paint"]


def test_a_uv_mapped_mesh_with_its_modifiers_is_written_and_names_its_uv_map(addon, scene, tmp_path) -> None:
    """Blender 5.2 crashed (the UV map's name was read after to_mesh_clear freed its mesh): Split into Parts of
    any mesh with a UV map, and Re-texture with Paint With Modifiers."""
    bpy.ops.mesh.primitive_uv_sphere_add()
    sphere = bpy.context.active_object
    sphere.modifiers.new("Subdivision", "SUBSURF")
    path, uv_name = addon.retexture_mesh.write_mesh_file(bpy.context, sphere, tmp_path, evaluated=True)
    assert path.is_file() and uv_name == sphere.data.uv_layers.active.name
