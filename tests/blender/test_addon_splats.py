"""Object > Export Gaussian Splat (PLY) in real Blender: the active mesh, with its base colour texture,
written as a 3DGS PLY a splat viewer reads (tests/backend/views/test_splats.py checks the format itself)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, StandInLayout  # noqa: E402
from splat_render import SH_C0, read_like_antimatter15  # noqa: E402


def _textured_plane(scene) -> tuple[object, object]:
    """A 2 x 2 plane in Blender's XY, lifted to z = 5; its texture's quadrants red (top left), blue (top
    right), green (bottom left), yellow (bottom right), UV v up along Blender's y."""
    mesh = bpy.data.meshes.new("splat plane")
    mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", [0, 0, 1, 0, 1, 1, 0, 1])
    obj = bpy.data.objects.new("splat plane", mesh)
    obj.location = (0, 0, 5)
    scene.collection.objects.link(obj)
    image = bpy.data.images.new("splat colours", 8, 8)
    pixels = np.zeros((8, 8, 4), np.float32)
    pixels[4:, :4], pixels[4:, 4:] = (1, 0, 0, 1), (0, 0, 1, 1)  # Blender's pixel rows start at the bottom
    pixels[:4, :4], pixels[:4, 4:] = (0, 1, 0, 1), (1, 1, 0, 1)
    image.pixels.foreach_set(pixels.ravel())
    material = bpy.data.materials.new("splat colours")
    material.use_nodes = True
    tree = material.node_tree
    node = tree.nodes.new("ShaderNodeTexImage")
    node.image = image
    shader = next(n for n in tree.nodes if n.type == "BSDF_PRINCIPLED")
    tree.links.new(node.outputs["Color"], shader.inputs["Base Color"])
    mesh.materials.append(material)
    return obj, image


@pytest.mark.smoke
def test_the_menu_button_writes_a_splat_file_a_viewer_reads(addon, scene, tmp_path: Path) -> None:
    obj, image = _textured_plane(scene)
    try:
        bpy.context.view_layer.objects.active = obj
        path = tmp_path / "plane.splat.ply"
        assert bpy.ops.img23d.export_splats(filepath=str(path)) == {"FINISHED"}
        rows = read_like_antimatter15(path.read_bytes())
        positions = np.stack([rows["x"], rows["y"], rows["z"]], 1)
        colours = 0.5 + SH_C0 * np.stack([rows[f"f_dc_{i}"] for i in range(3)], 1)
        # About one splat a texel the plane's UVs cover (8 x 8), never over: each face cut k x k (2 x 25).
        assert 32 <= len(positions) <= 64
        # glTF's axes: Blender's z = 5 is y = 5, Blender's y is -z.
        assert np.allclose(positions[:, 1], 5, atol=1e-5) and np.abs(positions[:, [0, 2]]).max() <= 1
        left, right = positions[:, 0] < -0.2, positions[:, 0] > 0.2
        top, bottom = positions[:, 2] < -0.2, positions[:, 2] > 0.2  # Blender's +y is glTF's -z
        for where, rgb in ((top & left, (1, 0, 0)), (top & right, (0, 0, 1)), (bottom & left, (0, 1, 0)),
                           (bottom & right, (1, 1, 0))):
            assert np.allclose(colours[where].mean(0), rgb, atol=0.05), rgb
        log: list[tuple] = []
        for menu in ("VIEW3D_MT_object", "VIEW3D_MT_object_context_menu"):
            entries = [f for f in getattr(bpy.types, menu)._dyn_ui_initialize()
                       if getattr(f, "__module__", "").startswith(ADDON_MODULE)]
            assert entries, f"the add-on adds nothing to {menu}"
            entries[0](type("Menu", (), {"layout": StandInLayout(log)})(), bpy.context)
        assert [call[1][0] for call in log if call[0] == "operator"] == [
            "img23d.split_parts", "img23d.rig_selected", "img23d.skin_to_armature", "img23d.pose_test",
            "img23d.export_splats"] * 2
    finally:
        bpy.data.objects.remove(obj)
        bpy.data.images.remove(image)


def test_what_cannot_be_exported_is_said_in_one_sentence(addon, scene, tmp_path: Path) -> None:
    splat_export = sys.modules[f"{ADDON_MODULE}.splat_export"]
    empty = bpy.data.objects.new("an empty", None)
    mesh = bpy.data.meshes.new("edges only")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0)], [(0, 1)], [])
    edges = bpy.data.objects.new("edges only", mesh)
    scene.collection.objects.link(empty)
    scene.collection.objects.link(edges)
    try:
        with pytest.raises(splat_export.SplatProblem, match="select a mesh object"):
            splat_export.export_splats(bpy.context, empty, tmp_path / "x.ply")
        with pytest.raises(splat_export.SplatProblem, match="no faces"):
            splat_export.export_splats(bpy.context, edges, tmp_path / "x.ply")
        plane = bpy.data.meshes.new("plane")
        plane.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
        edges.data = plane  # a face now, and no material: grey splats, to a folder that is not there
        with pytest.raises(splat_export.SplatProblem, match="Could not write"):
            splat_export.export_splats(bpy.context, edges, tmp_path / "no such folder" / "x.ply")
        assert not list(tmp_path.rglob("*.ply*")), "nothing half-written is left"
    finally:
        bpy.data.objects.remove(empty)
        bpy.data.objects.remove(edges)


def test_the_objects_own_material_slot_colours_the_splats_and_a_missing_image_is_said(addon, scene,
                                                                                     tmp_path: Path) -> None:
    """A material linked to the object (over its mesh's) exported the mesh's colour, not the one the viewport
    shows; an image with no pixels (its file missing) exported the node's hidden colour without a word."""
    splat_export = sys.modules[f"{ADDON_MODULE}.splat_export"]
    obj, image = _textured_plane(scene)
    red = bpy.data.materials.new("object red")
    red.use_nodes = True
    next(n for n in red.node_tree.nodes if n.type == "BSDF_PRINCIPLED").inputs["Base Color"].default_value = \
        (1, 0, 0, 1)
    try:
        obj.material_slots[0].link = "OBJECT"
        obj.material_slots[0].material = red
        path = tmp_path / "red.splat.ply"
        splat_export.export_splats(bpy.context, obj, path)
        rows = read_like_antimatter15(path.read_bytes())
        colours = 0.5 + SH_C0 * np.stack([rows[f"f_dc_{i}"] for i in range(3)], 1)
        assert np.allclose(colours.mean(0), (1, 0, 0), atol=0.05)
        obj.material_slots[0].link = "DATA"
        missing = bpy.data.images.new("gone.png", 4, 4)  # an image whose file is gone, as a .blend opens it
        missing.source, missing.filepath = "FILE", str(tmp_path / "gone.png")
        missing.reload()
        next(n for n in obj.data.materials[0].node_tree.nodes if n.type == "TEX_IMAGE").image = missing
        with pytest.raises(splat_export.SplatProblem, match="its Base Color image 'gone.png' has no pixels"):
            splat_export.export_splats(bpy.context, obj, tmp_path / "gone.splat.ply")
    finally:
        bpy.data.objects.remove(obj)
        bpy.data.images.remove(image)
        bpy.data.materials.remove(red)


def test_disabling_takes_the_menu_entries_away_and_enabling_adds_them_once(addon) -> None:
    import addon_utils

    from blender_support import configure_preferences

    def entries() -> list[int]:
        return [sum(getattr(f, "__module__", "").startswith(ADDON_MODULE)
                    for f in getattr(bpy.types, menu)._dyn_ui_initialize())
                for menu in ("VIEW3D_MT_object", "VIEW3D_MT_object_context_menu")]

    # One entry function in each menu (Split Selected into Parts and Export Gaussian Splat).
    assert entries() == [1, 1]
    addon_utils.disable(ADDON_MODULE, default_set=True)
    try:
        assert entries() == [0, 0]
    finally:
        addon_utils.enable(ADDON_MODULE, default_set=True)
        configure_preferences()
    assert entries() == [1, 1]
