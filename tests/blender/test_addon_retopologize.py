"""Retopologize Selected in Blender, with a stand-in result or a stand-in backend: the topology it needs, the
selection it refuses, the retopo job's meshes left to the operator, the low mesh put in the original's place
(parent, children, collection, transform) with the original kept as the hidden high mesh, one undo step that
restores the scene, a missing result or object changing nothing, and the base colour image sent rows from the
top, only with UVs. The finished objects' import is ``test_addon_finished_import``'s."""

from __future__ import annotations

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import StandInSession, _module  # noqa: E402
from finished_glb import grid, write_glb  # noqa: E402


# --- Retopologize Selected ------------------------------------------------------------------------------


def test_retopologize_needs_a_topology_that_remakes_the_mesh(addon, scene) -> None:
    retopo = _module(addon, "operators.retopo")
    with pytest.raises(retopo._inputs.InputError, match="Topology is As Generated: choose Triangles or Quads"):
        retopo.finish_options(bpy.context)
    scene.img23d.topology = "quads"
    assert retopo.finish_options(bpy.context).topology == "quads"
    assert "UNDO" in retopo.IMG23D_OT_retopologize.bl_options  # Blender's one undo step when it finishes


def test_a_retopo_jobs_meshes_are_left_to_the_operator_not_imported(addon, scene, tmp_path) -> None:
    job_runner = _module(addon, "job_runner")
    protocol = job_runner.protocol
    request = protocol.RetopoRequest(mesh=str(tmp_path / "in.npz"), name="statue",
                                     options=protocol.JobOptions(topology="quads"))
    runner = job_runner.JobRunner(StandInSession(), scene, request, "statue")
    before = set(bpy.data.objects)
    for kind, path in (("high_mesh", tmp_path / "high" / "statue.glb"), ("mesh", tmp_path / "statue.glb")):
        runner._handle(protocol.Artifact(job="job-1", kind=kind, path=str(path), target="statue", instance=1))
    assert runner.outcome.files == {"high_mesh": str(tmp_path / "high" / "statue.glb"),
                                    "mesh": str(tmp_path / "statue.glb")}
    assert set(bpy.data.objects) == before and runner.outcome.objects == []


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_retopologize_puts_the_low_mesh_in_place_and_one_undo_restores_the_scene(addon, scene, tmp_path) -> None:
    retopo = _module(addon, "operators.retopo")
    outcome_class = _module(addon, "job_runner").Outcome
    collection = bpy.data.collections.new("props")
    scene.collection.children.link(collection)
    holder = bpy.data.objects.new("holder", None)
    collection.objects.link(holder)
    mesh = bpy.data.meshes.new("statue")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)], [], [(0, 1, 2), (0, 2, 3)])
    original = bpy.data.objects.new("statue", mesh)
    collection.objects.link(original)
    original.parent = holder
    original.location, original.rotation_euler, original.scale = (1, 2, 3), (0.1, 0.2, 0.3), (2, 2, 2)
    child = bpy.data.objects.new("label", None)
    collection.objects.link(child)
    child.parent = original
    bpy.context.view_layer.update()
    world, child_world = original.matrix_world.copy(), child.matrix_world.copy()
    positions, triangles, uvs, quads = grid(2)
    result = write_glb(tmp_path / "statue.glb", positions, triangles, uvs, quads)
    bpy.ops.ed.undo_push(message="before Retopologize")
    try:
        low = retopo.place_result(_module(addon, "held").hold(original), outcome_class(finished=True,
                                                                                      files={"mesh": str(result)}))
        # What Blender does when an operator with the UNDO flag finishes: one step.
        bpy.ops.ed.undo_push(message="Retopologize Selected")
        bpy.context.view_layer.update()
        high = bpy.data.objects["statue (high)"]
        assert low.name == "statue" and high == original and low["img23d_high"] == high
        assert high.hide_get() and high.hide_render and not low.hide_get()
        assert list(low.users_collection) == [collection] and low.parent == holder
        assert np.allclose(np.array(low.matrix_world), np.array(world))
        assert child.parent == low and np.allclose(np.array(child.matrix_world), np.array(child_world))
        assert bpy.context.view_layer.objects.active == low and low.select_get()
        assert sum(len(p.vertices) == 4 for p in low.data.polygons) == quads
        bpy.ops.ed.undo()
        bpy.context.view_layer.update()
        restored = bpy.data.objects["statue"]
        assert "statue (high)" not in bpy.data.objects and len(restored.data.polygons) == 2
        assert not restored.hide_get() and not restored.hide_render
        assert bpy.data.objects["label"].parent == restored
    finally:
        for name in ("statue", "statue (high)", "label", "holder"):
            if name in bpy.data.objects:
                bpy.data.objects.remove(bpy.data.objects[name])
        if "props" in bpy.data.collections:
            bpy.data.collections.remove(bpy.data.collections["props"])


def test_retopologize_with_a_missing_result_or_object_changes_nothing(addon, scene, tmp_path) -> None:
    retopo = _module(addon, "operators.retopo")
    scene_import = _module(addon, "scene_import")
    outcome_class = _module(addon, "job_runner").Outcome
    mesh = bpy.data.meshes.new("rock")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
    rock = bpy.data.objects.new("rock", mesh)
    scene.collection.objects.link(rock)
    held = _module(addon, "held")
    with pytest.raises(scene_import.ImportFailed, match="does not exist"):
        retopo.place_result(held.hold(rock), outcome_class(finished=True, files={"mesh": str(tmp_path / "none.glb")}))
    with pytest.raises(scene_import.ImportFailed, match="'gone' is gone"):
        retopo.place_result(held.Held(uid=-1, name="gone"),
                            outcome_class(finished=True, files={"mesh": str(tmp_path / "none.glb")}))
    assert rock.name == "rock" and not rock.hide_get() and "rock (high)" not in bpy.data.objects


def test_retopologize_sends_the_base_colour_image_rows_from_the_top_only_with_uvs(addon, scene, tmp_path) -> None:
    retexture_mesh = _module(addon, "retexture_mesh")
    mesh = bpy.data.meshes.new("painted")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new("painted", mesh)
    scene.collection.objects.link(obj)
    image = bpy.data.images.new("paint", 4, 2)
    pixels = np.zeros((2, 4, 4), dtype=np.float32)
    pixels[0, :, 0] = 1.0  # Blender's first row (the bottom): red; the top row: blue
    pixels[1, :, 2] = 1.0
    pixels[..., 3] = 1.0
    image.pixels.foreach_set(pixels.ravel())
    material = bpy.data.materials.new("paint")
    if material.node_tree is None:
        material.use_nodes = True
    nodes = material.node_tree.nodes
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    shader = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    material.node_tree.links.new(texture.outputs["Color"], shader.inputs["Base Color"])
    mesh.materials.append(material)
    try:
        path, uv_map = retexture_mesh.write_mesh_file(bpy.context, obj, tmp_path, evaluated=False, colour=True)
        with np.load(path) as data:
            assert "base_color" not in data.files and uv_map is None  # no UVs: the image cannot be read onto it
        mesh.uv_layers.new(name="UVMap")
        path, uv_map = retexture_mesh.write_mesh_file(bpy.context, obj, tmp_path, evaluated=False, colour=True)
        with np.load(path) as data:
            colour = data["base_color"]
        assert colour.dtype == np.uint8 and colour.shape == (2, 4, 3) and uv_map == "UVMap"
        assert (colour[0] == (0, 0, 255)).all() and (colour[1] == (255, 0, 0)).all()
        path, _ = retexture_mesh.write_mesh_file(bpy.context, obj, tmp_path, evaluated=False)
        with np.load(path) as data:
            assert "base_color" not in data.files  # Re-texture sends no image
    finally:
        bpy.data.materials.remove(material)
        bpy.data.images.remove(image)


def test_retopologize_refuses_no_mesh_or_a_mesh_in_edit_mode(addon, scene) -> None:
    retopo = _module(addon, "operators.retopo")
    mesh = bpy.data.meshes.new("slab")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0)], [], [(0, 1, 2)])
    slab = bpy.data.objects.new("slab", mesh)
    scene.collection.objects.link(slab)
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    bpy.context.view_layer.objects.active = None
    with pytest.raises(retopo._inputs.InputError, match="Nothing is selected: select one mesh object to retopologize"):
        retopo.selected_mesh(bpy.context)
    slab.select_set(True)
    bpy.context.view_layer.objects.active = slab
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        with pytest.raises(retopo._inputs.InputError, match="'slab' is in Edit Mode"):
            retopo.selected_mesh(bpy.context)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    assert retopo.selected_mesh(bpy.context) == slab


def test_retopologize_selected_end_to_end_with_a_stand_in_backend_is_one_undo_step(addon, scene, fresh_backend,
                                                                                   tmp_path, capfd) -> None:
    from fault_support import _fake_python, _prefs, _runs_dir

    _prefs().python_path = str(_fake_python(tmp_path, "retopo"))
    settings = scene.img23d
    settings.topology, settings.finish_preset = "quads", "PROP"
    mesh = bpy.data.meshes.new("statue mesh")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)], [], [(0, 1, 2, 3)])
    mesh.uv_layers.new(name="UVMap")
    statue = bpy.data.objects.new("statue", mesh)
    scene.collection.objects.link(statue)
    statue.location = (1, 2, 3)
    statue["img23d_run"], statue["img23d_target"], statue["img23d_key"] = "/runs/a", "statue", "statue"
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    statue.select_set(True)
    bpy.context.view_layer.objects.active = statue
    bpy.ops.ed.undo_push(message="before Retopologize")
    capfd.readouterr()
    # As a button calls it: with an undo push (bpy.ops pushes none unless asked), made by the UNDO flag.
    assert bpy.ops.img23d.retopologize("EXEC_DEFAULT", True) == {"FINISHED"}
    out = capfd.readouterr().out
    got = json.loads((_runs_dir() / "_fake" / "retopo" / "got.json").read_text())
    options = got["request"]["options"]
    assert (got["request"]["name"], options["topology"], options["face_target"], options["bake_size"]) == \
        ("statue", "quads", 2000, 1024)
    assert got["arrays"]["positions"] == [4, 3] and got["arrays"]["loop_uvs"] == [4, 2]  # the mesh as Re-texture's
    low, high = bpy.data.objects["statue"], bpy.data.objects["statue (high)"]
    assert high.hide_get() and high.data.name == "statue mesh" and len(high.data.polygons) == 1  # the original
    assert sum(len(p.vertices) == 4 for p in low.data.polygons) == 4 and tuple(low.location) == (1, 2, 3)
    # Where it came from goes with the object shown (Re-layout moved the hidden original, Regenerate refused).
    assert (low["img23d_run"], low["img23d_target"], low["img23d_key"]) == ("/runs/a", "statue", "statue")
    assert not {"img23d_run", "img23d_target", "img23d_key"} & set(high.keys())
    assert "Warning: The quads failed their check (holes): made triangles instead" in out
    assert out.count("failed their check") == 1
    bpy.ops.ed.undo()  # the operator's own undo step: one Ctrl+Z
    bpy.context.view_layer.update()
    restored = bpy.data.objects["statue"]
    assert "statue (high)" not in bpy.data.objects and len(restored.data.polygons) == 1
    assert not restored.hide_get()
