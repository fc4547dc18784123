"""Finished (game-ready) objects in Blender: the Finish controls, quads restored from a finished
GLB (written here to the contract of docs/game-ready.md, as the backend's finish/glb.py writes
it: the count of leading quads in the glTF mesh's extras), the hidden high mesh, and
Retopologize Selected's scene logic with a stand-in result."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import ADDON_MODULE, StandInLayout, draw_main_panel  # noqa: E402

# --- contract GLBs ------------------------------------------------------------------------------


def _grid(n: int, seam: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """An n x n grid of quads (each as triangles 2k, 2k + 1), then a fan of two triangles; with
    ``seam``, every second quad's second triangle has its own copies of the diagonal's vertices,
    as a glTF writer splits vertices along a UV seam. Positions, triangles, UVs, quad count."""
    side = n + 1
    xs, ys = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    positions = [tuple(p) for p in np.stack([xs.ravel(), ys.ravel(), np.zeros(side * side)], 1)]
    triangles = []
    for j in range(n):
        for i in range(n):
            a = j * side + i
            b, c, d = a + 1, a + side + 1, a + side
            triangles.append((a, b, c))
            if seam and (i + j) % 2:
                positions += [positions[a], positions[c]]
                triangles.append((len(positions) - 2, len(positions) - 1, d))
            else:
                triangles.append((a, c, d))
    apex = len(positions)
    positions += [(n + 1.0, 0.0, 0.5), (n + 1.0, 1.0, 0.5)]
    triangles += [(side - 1, apex, apex + 1), (side - 1, apex + 1, 2 * side - 1)]
    positions = np.array(positions)
    uvs = positions[:, :2] / (n + 1) + (np.arange(len(positions)) % 2)[:, None] * 0.01
    return positions, np.array(triangles), uvs, n * n


def _write_glb(path: Path, positions: np.ndarray, triangles: np.ndarray, uvs: np.ndarray,
               quads: object) -> Path:
    """A binary glTF 2.0 file of one mesh (positions, UVs, 32-bit indices, in glTF's Y-up axes as
    given) whose mesh ``extras`` hold ``{"img23d_quads": quads}`` (none when ``quads`` is None).
    Written here, not with trimesh: the Blender 4.2 test environment has no mesh library."""
    positions, uvs = np.asarray(positions, "<f4"), np.asarray(uvs, "<f4")
    indices = np.asarray(triangles, "<u4").ravel()
    blobs = [positions.tobytes(), uvs.tobytes(), indices.tobytes()]
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    mesh: dict = {"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "indices": 2}]}
    if quads is not None:
        mesh["extras"] = {"img23d_quads": quads}
    gltf = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [mesh], "buffers": [{"byteLength": int(offsets[-1])}],
            "bufferViews": [{"buffer": 0, "byteOffset": int(offset), "byteLength": len(blob)}
                            for offset, blob in zip(offsets, blobs)],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
                           "min": positions.min(0).tolist(), "max": positions.max(0).tolist()},
                          {"bufferView": 1, "componentType": 5126, "count": len(uvs), "type": "VEC2"},
                          {"bufferView": 2, "componentType": 5125, "count": len(indices), "type": "SCALAR"}]}
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    data = b"".join(blobs)
    data += b"\0" * (-len(data) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(data), 0x004E4942) + data
    path.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return path


def _blender_axes(points: np.ndarray) -> np.ndarray:
    """glTF's Y-up positions as Blender's importer turns them: (x, -z, y)."""
    return np.stack([points[:, 0], -points[:, 2], points[:, 1]], axis=1)


def _faces(obj) -> list[np.ndarray]:
    mesh = obj.data
    return [np.array([mesh.vertices[i].co[:] for i in polygon.vertices]) for polygon in mesh.polygons]


def _same_corners(a: np.ndarray, b: np.ndarray) -> bool:
    key = lambda points: sorted(tuple(np.round(p, 5)) for p in points)  # noqa: E731
    return key(a) == key(b)


def _module(addon, name: str):
    return sys.modules[f"{ADDON_MODULE}.{name}"]


# --- the panel ------------------------------------------------------------------------------------


def test_the_finish_panel_draws_its_controls_and_the_presets_set_the_options(addon, scene) -> None:
    log: list[tuple] = []
    panel = type("StandInPanel", (), {"layout": StandInLayout(log), "bl_idname": "IMG23D_PT_finish"})()
    addon.panels.main.IMG23D_PT_finish.draw(panel, bpy.context)
    drawn = [args[1] for name, args, _ in log if name == "prop"]
    assert drawn == ["topology", "finish_preset", "face_target", "bake_size"]
    assert any(name == "operator" and args[0] == "img23d.retopologize" for name, args, _ in draw_main_panel(addon))
    settings = scene.img23d
    options = settings.job_options()
    assert (options.topology, options.face_target, options.bake_size) == ("as-generated", 5000, 1024)
    settings.topology, settings.finish_preset = "quads", "HERO"
    options = settings.job_options()
    assert (options.topology, options.face_target, options.bake_size) == ("quads", 10_000, 2048)
    settings.topology, settings.finish_preset = "triangles", "PROP"
    options = settings.job_options()
    assert (options.topology, options.face_target, options.bake_size) == ("triangles", 2000, 1024)
    settings.face_target, settings.bake_size = 3000, "4096"  # the fields win over the preset
    options = settings.job_options()
    assert (options.face_target, options.bake_size) == (3000, 4096)
    assert [item.identifier for item in settings.bl_rna.properties["topology"].enum_items] == \
        list(_module(addon, "job_runner").protocol.TOPOLOGY_CHOICES)


# --- quads back on import ------------------------------------------------------------------------


def test_the_importer_keeps_the_files_triangle_order(addon, scene, tmp_path) -> None:
    rng = np.random.default_rng(4)
    positions = rng.random((40, 3))
    triangles = np.array([rng.choice(40, 3, replace=False) for _ in range(60)])
    for quads in (None, 0):  # a plain GLB, and a finished one (imported with Merge Vertices)
        path = _write_glb(tmp_path / f"order-{quads}.glb", positions, triangles, rng.random((40, 2)), quads)
        obj = _module(addon, "scene_import").import_glb(path, "order")
        faces = _faces(obj)
        assert len(faces) == len(triangles)
        for face, triangle in zip(faces, triangles):
            assert _same_corners(face, _blender_axes(positions[triangle]))
        bpy.data.objects.remove(obj)


@pytest.mark.parametrize("seam", [False, True])
def test_a_finished_glb_arrives_with_its_quads_and_the_rest_triangles(addon, scene, tmp_path, seam: bool) -> None:
    positions, triangles, uvs, quads = _grid(3, seam)
    path = _write_glb(tmp_path / "finished.glb", positions, triangles, uvs, quads)
    notes: list[str] = []
    obj = _module(addon, "scene_import").import_glb(path, "crate", notes)
    sizes = [len(p.vertices) for p in obj.data.polygons]
    assert sorted(sizes) == [3, 3] + [4] * quads and notes == []
    assert "img23d_quads" not in obj.data  # the quads are in the mesh itself now
    expected = [_blender_axes(np.unique(positions[triangles[2 * k:2 * k + 2].ravel()], axis=0)) for k in range(quads)]
    made = [face for face in _faces(obj) if len(face) == 4]
    assert all(any(_same_corners(face, quad) for face in made) for quad in expected)
    assert len(obj.data.uv_layers) == 1  # the UVs came through the join
    bpy.data.objects.remove(obj)


@pytest.mark.parametrize("quads, joined, said", [
    (2, 1, "1 of its 2 quads were left as two triangles"),  # pair 1 shares no edge
    (99, 0, "its quad count 99 does not fit its 6 triangles"),
    ("2", 0, "its quad count '2' is not a whole number"),
    (-1, 0, "its quad count -1 does not fit"),
    (True, 0, "its quad count True is not a whole number"),
])
def test_a_hostile_quad_count_or_pairing_leaves_triangles_and_is_said_once(addon, scene, tmp_path, quads, joined,
                                                                          said) -> None:
    apart = [corner for left in (3, 6, 9, 12) for corner in ([left, 0, 0], [left + 1, 0, 0], [left + 1, 1, 0])]
    positions = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]] + apart, dtype=float)
    # Pair 0 (triangles 0, 1) is a quad; pair 1 (2, 3) and pair 2 (4, 5) are triangles apart.
    triangles = np.array([(0, 1, 2), (0, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12), (13, 14, 15)])
    path = _write_glb(tmp_path / "hostile.glb", positions, triangles, positions[:, :2] / 16, quads)
    notes: list[str] = []
    obj = _module(addon, "scene_import").import_glb(path, "crate", notes)
    sizes = sorted(len(p.vertices) for p in obj.data.polygons)
    assert sizes == [3] * (6 - 2 * joined) + [4] * joined
    assert len(notes) == 1 and said in notes[0] and "'crate'" in notes[0], notes
    bpy.data.objects.remove(obj)


def test_a_shared_edge_with_a_third_face_is_not_joined(addon) -> None:
    quad_restore = _module(addon, "quad_restore")
    mesh = bpy.data.meshes.new("fin")
    # Three triangles on one edge (0-2): a fin, not a quad.
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0.5, 0.5, 1)], [],
                     [(0, 1, 2), (0, 2, 3), (0, 2, 4)])
    mesh["img23d_quads"] = 1
    restored = quad_restore.restore_quads(mesh, "fin")
    assert (restored.joined, restored.refused) == (0, 1) and len(mesh.polygons) == 3
    bpy.data.meshes.remove(mesh)


# --- the high mesh -----------------------------------------------------------------------------------


class _StandInSession:
    """Enough of a BackendSession for a JobRunner fed its messages by hand."""

    hello = None
    progress = None

    def submit(self, request) -> str:
        request.id = "job-1"
        return request.id


def test_a_high_mesh_artifact_is_imported_hidden_beside_its_low_object_and_linked(addon, scene, tmp_path) -> None:
    job_runner = _module(addon, "job_runner")
    protocol = job_runner.protocol
    positions, triangles, uvs, quads = _grid(2)
    (tmp_path / "high").mkdir()
    low_path = _write_glb(tmp_path / "chair_1.glb", positions, triangles, uvs, quads)
    high_path = _write_glb(tmp_path / "high" / "chair_1.glb", positions, triangles, uvs, None)
    request = protocol.GenerateRequest(image="x.png", targets=["chair"], options=protocol.JobOptions())
    runner = job_runner.JobRunner(_StandInSession(), scene, request, "picture")
    fields = dict(job="job-1", target="chair", instance=1, box=[10.0, 10.0, 60.0, 80.0], image_size=[100, 100])
    runner._handle(protocol.Artifact(kind="high_mesh", path=str(high_path), **fields))
    assert runner.outcome.objects == []  # a high mesh waits for its low one
    runner._handle(protocol.Artifact(kind="mesh", path=str(low_path), **fields))
    low = bpy.data.objects["chair"]
    high = bpy.data.objects["chair (high)"]
    assert runner.outcome.objects == ["chair"] and runner.outcome.failed_targets == []
    assert high.hide_get() and high.hide_render and not low.hide_get() and not low.hide_render
    assert list(high.users_collection) == list(low.users_collection) == [runner.collection]
    assert low["img23d_high"] == high and high["img23d_low"] == low
    assert np.allclose(np.array(high.matrix_world), np.array(low.matrix_world))
    assert all(len(p.vertices) == 3 for p in high.data.polygons)  # no quads asked of the high mesh
    assert sum(len(p.vertices) == 4 for p in low.data.polygons) == quads


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
    runner = job_runner.JobRunner(_StandInSession(), scene, request, "statue")
    before = set(bpy.data.objects)
    for kind, path in (("high_mesh", tmp_path / "high" / "statue.glb"), ("mesh", tmp_path / "statue.glb")):
        runner._handle(protocol.Artifact(job="job-1", kind=kind, path=str(path), target="statue", instance=1))
    assert runner.outcome.files == {"high_mesh": str(tmp_path / "high" / "statue.glb"),
                                    "mesh": str(tmp_path / "statue.glb")}
    assert set(bpy.data.objects) == before and runner.outcome.objects == []


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
    positions, triangles, uvs, quads = _grid(2)
    result = _write_glb(tmp_path / "statue.glb", positions, triangles, uvs, quads)
    bpy.ops.ed.undo_push(message="before Retopologize")
    try:
        low = retopo.place_result("statue", outcome_class(finished=True, files={"mesh": str(result)}))
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
    with pytest.raises(scene_import.ImportFailed, match="does not exist"):
        retopo.place_result("rock", outcome_class(finished=True, files={"mesh": str(tmp_path / "none.glb")}))
    with pytest.raises(scene_import.ImportFailed, match="'gone' is gone"):
        retopo.place_result("gone", outcome_class(finished=True, files={"mesh": str(tmp_path / "none.glb")}))
    assert rock.name == "rock" and not rock.hide_get() and "rock (high)" not in bpy.data.objects


def test_import_run_brings_a_finished_objects_high_mesh_hidden_beside_it(addon, scene, tmp_path) -> None:
    positions, triangles, uvs, quads = _grid(2)
    run = tmp_path / "run"
    (run / "high").mkdir(parents=True)
    _write_glb(run / "crate_1.glb", positions, triangles, uvs, quads)
    _write_glb(run / "high" / "crate_1.glb", positions, triangles, uvs, None)
    record = {"target": "crate", "instance": 1, "stem": "crate_1", "status": "done", "mesh": "crate_1.glb",
              "box": [10, 10, 50, 50]}
    manifest = {"kind": "generate", "status": "finished", "records": [record], "models": {},
                "image": {"source": str(run / "input.png"), "original_size": [100, 100]}}
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert bpy.ops.img23d.import_run(filepath=str(run)) == {"FINISHED"}
    low, high = bpy.data.objects["crate"], bpy.data.objects["crate (high)"]
    assert low["img23d_high"] == high and high.hide_get() and high.hide_render
    assert sum(len(p.vertices) == 4 for p in low.data.polygons) == quads
    assert list(high.users_collection) == list(low.users_collection)


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


def test_a_second_high_mesh_goes_into_the_low_objects_existing_high_object(addon, scene, tmp_path) -> None:
    finished_objects = _module(addon, "finished_objects")
    positions, triangles, uvs, _ = _grid(1)
    first = _write_glb(tmp_path / "first.glb", positions, triangles, uvs, None)
    second = _write_glb(tmp_path / "second.glb", positions * 2, triangles, uvs, None)
    low = _module(addon, "scene_import").import_glb(first, "vase")
    scene.collection.objects.link(low)
    high = finished_objects.add_high_mesh(low, first)
    low.location = (3, 0, 0)  # Regenerate moved it
    again = finished_objects.add_high_mesh(low, second)
    assert again == high and high.name == "vase (high)" and "vase (high).001" not in bpy.data.objects
    assert high.hide_get() and max(v.co.x for v in high.data.vertices) == pytest.approx(2 * positions[:, 0].max())
    assert tuple(high.location) == pytest.approx((3, 0, 0))


def test_the_backends_fallback_sentences_are_said_once_and_odd_records_skipped(addon) -> None:
    notes = _module(addon, "operators._job").finish_fallback_notes
    said = "quads failed their check (holes): made 5,000 triangles instead"
    data = {"targets": [{"finish": {"fallback": said}}, {"finish": {"fallback": said}}, {"finish": {"fallback": None}},
                        {"finish": "odd"}, "odd", {"finish": {"fallback": 3}}, {}]}
    assert notes(data) == [said[:1].upper() + said[1:]]
    assert notes({"targets": "odd"}) == notes({}) == []


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
