"""Game-ready objects end to end in real Blender with the real backend (tiny models): a Generate with
topology Quads puts low-poly quad objects with colour and normal maps in the scene, each with its
generated mesh hidden beside it; Retopologize Selected remakes the artist's mesh in place."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from testdata import MESH, SUBJECT  # noqa: E402

FACES = 300     # small, so the tiny models' blobs and the example mesh finish in a second or two


def _quad_share(obj) -> float:
    polygons = obj.data.polygons
    return sum(len(p.vertices) == 4 for p in polygons) / len(polygons)


def _image_nodes(obj) -> dict[str, object]:
    """The images of the object's material, by the socket they feed (Base Color, or the normal map's Color)."""
    found = {}
    for link in obj.data.materials[0].node_tree.links:
        if link.from_node.type == "TEX_IMAGE" and link.from_node.image is not None:
            found[f"{link.to_node.type}:{link.to_socket.name}"] = link.from_node.image
    return found


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_quads_generate_puts_low_poly_objects_with_their_maps_and_hides_the_generated_mesh(addon, scene) -> None:
    settings = scene.img23d
    settings.texture, settings.texture_size, settings.paint_steps, settings.delight_steps = True, 256, 2, 2
    settings.topology, settings.face_target, settings.bake_size = "quads", FACES, "128"
    assert bpy.ops.img23d.generate() == {"FINISHED"}
    for name in ("house", "chimney", "barrel"):
        low, high = bpy.data.objects[name], bpy.data.objects[f"{name} (high)"]
        assert _quad_share(low) > 0.9, (name, _quad_share(low))
        assert abs(len(low.data.polygons) - FACES) <= 0.15 * FACES or _quad_share(low) < 1
        assert len(high.data.polygons) > len(low.data.polygons)
        assert high.hide_get() and high.hide_render and not low.hide_get()
        assert low.users_collection == high.users_collection
        maps = _image_nodes(low)
        assert "NORMAL_MAP:Color" in maps and maps["NORMAL_MAP:Color"].size[:] == (128, 128)
        assert any(key.endswith("Base Color") for key in maps)
        # The material step's metallic-roughness map, baked onto the low mesh beside the colour (issue 47)
        assert maps["SEPARATE_COLOR:Color"].size[:] == (128, 128)
        run = Path(low["img23d_run"])
        assert (run / "high" / f"{name}.glb").is_file()
    # Re-layout moves each high mesh with its low one (it was left where it stood: a bake from it read
    # misplaced geometry).
    fov, estimated = scene.img23d.fov, scene.img23d.estimate_fov
    scene.img23d.fov, scene.img23d.estimate_fov = fov * 0.6, False
    try:
        assert bpy.ops.img23d.relayout(run_dir=str(run)) == {"FINISHED"}
    finally:
        scene.img23d.fov, scene.img23d.estimate_fov = fov, estimated
    for name in ("house", "chimney", "barrel"):
        low, high = bpy.data.objects[name], bpy.data.objects[f"{name} (high)"]
        assert max(abs(a - b) for ra, rb in zip(low.matrix_world, high.matrix_world) for a, b in zip(ra, rb)) < 1e-5


def test_retopologize_selected_remakes_the_artists_mesh_in_place_with_the_real_backend(addon, scene) -> None:
    settings = scene.img23d
    settings.image_path = str(SUBJECT)
    settings.topology, settings.face_target, settings.bake_size = "quads", FACES, "128"
    bpy.ops.import_scene.gltf(filepath=str(MESH))
    statue = next(o for o in bpy.context.selected_objects if o.type == "MESH")
    statue.name, statue.location = "statue", (1.0, 2.0, 3.0)
    faces_before = len(statue.data.polygons)
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    statue.select_set(True)
    bpy.context.view_layer.objects.active = statue
    assert bpy.ops.img23d.retopologize() == {"FINISHED"}
    low, high = bpy.data.objects["statue"], bpy.data.objects["statue (high)"]
    assert high is statue and high.hide_get() and len(high.data.polygons) == faces_before  # the original, kept
    assert _quad_share(low) == 1.0 and abs(len(low.data.polygons) - FACES) <= 0.15 * FACES
    assert tuple(low.location) == (1.0, 2.0, 3.0)
    assert "NORMAL_MAP:Color" in _image_nodes(low)  # no colour on the example mesh: the normal map alone
