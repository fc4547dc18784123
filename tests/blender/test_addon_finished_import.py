"""Finished (game-ready) objects arriving in Blender: the Finish controls, quads restored from a finished GLB
(written here to the contract of docs/game-ready.md, as the backend's finish/glb.py writes it: the count of
leading quads in the glTF mesh's extras), the hidden high mesh beside its low object (from a job's artifacts,
an imported run, a second high mesh), and the report's sentences on a finished job (the backend's fallbacks,
the views left out). Retopologize Selected is ``test_addon_retopologize``'s."""

from __future__ import annotations

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_support import StandInLayout, StandInSession, _module, draw_main_panel  # noqa: E402
from finished_glb import grid, write_glb  # noqa: E402


def _blender_axes(points: np.ndarray) -> np.ndarray:
    """glTF's Y-up positions as Blender's importer turns them: (x, -z, y)."""
    return np.stack([points[:, 0], -points[:, 2], points[:, 1]], axis=1)


def _faces(obj) -> list[np.ndarray]:
    mesh = obj.data
    return [np.array([mesh.vertices[i].co[:] for i in polygon.vertices]) for polygon in mesh.polygons]


def _same_corners(a: np.ndarray, b: np.ndarray) -> bool:
    key = lambda points: sorted(tuple(np.round(p, 5)) for p in points)  # noqa: E731
    return key(a) == key(b)


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
        path = write_glb(tmp_path / f"order-{quads}.glb", positions, triangles, rng.random((40, 2)), quads)
        obj = _module(addon, "scene_import").import_glb(path, "order")
        faces = _faces(obj)
        assert len(faces) == len(triangles)
        for face, triangle in zip(faces, triangles):
            assert _same_corners(face, _blender_axes(positions[triangle]))
        bpy.data.objects.remove(obj)


@pytest.mark.parametrize("seam", [False, True])
@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_finished_glb_arrives_with_its_quads_and_the_rest_triangles(addon, scene, tmp_path, seam: bool) -> None:
    positions, triangles, uvs, quads = grid(3, seam)
    path = write_glb(tmp_path / "finished.glb", positions, triangles, uvs, quads)
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
    path = write_glb(tmp_path / "hostile.glb", positions, triangles, positions[:, :2] / 16, quads)
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


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_high_mesh_artifact_is_imported_hidden_beside_its_low_object_and_linked(addon, scene, tmp_path) -> None:
    job_runner = _module(addon, "job_runner")
    protocol = job_runner.protocol
    positions, triangles, uvs, quads = grid(2)
    (tmp_path / "high").mkdir()
    low_path = write_glb(tmp_path / "chair_1.glb", positions, triangles, uvs, quads)
    high_path = write_glb(tmp_path / "high" / "chair_1.glb", positions, triangles, uvs, None)
    request = protocol.GenerateRequest(image="x.png", targets=["chair"], options=protocol.JobOptions())
    runner = job_runner.JobRunner(StandInSession(), scene, request, "picture")
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


def test_import_run_brings_a_finished_objects_high_mesh_hidden_beside_it(addon, scene, tmp_path) -> None:
    positions, triangles, uvs, quads = grid(2)
    run = tmp_path / "run"
    (run / "high").mkdir(parents=True)
    write_glb(run / "crate_1.glb", positions, triangles, uvs, quads)
    write_glb(run / "high" / "crate_1.glb", positions, triangles, uvs, None)
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


def test_a_second_high_mesh_goes_into_the_low_objects_existing_high_object(addon, scene, tmp_path) -> None:
    finished_objects = _module(addon, "finished_objects")
    positions, triangles, uvs, _ = grid(1)
    first = write_glb(tmp_path / "first.glb", positions, triangles, uvs, None)
    second = write_glb(tmp_path / "second.glb", positions * 2, triangles, uvs, None)
    low = _module(addon, "scene_import").import_glb(first, "vase")
    scene.collection.objects.link(low)
    high = finished_objects.add_high_mesh(low, first)
    low.location = (3, 0, 0)  # Regenerate moved it
    again = finished_objects.add_high_mesh(low, second)
    assert again == high and high.name == "vase (high)" and "vase (high).001" not in bpy.data.objects
    assert high.hide_get() and max(v.co.x for v in high.data.vertices) == pytest.approx(2 * positions[:, 0].max())
    assert tuple(high.location) == pytest.approx((3, 0, 0))


# --- the report's sentences -----------------------------------------------------------------------------


def test_the_backends_fallback_sentences_are_said_once_and_odd_records_skipped(addon) -> None:
    notes = _module(addon, "operators._job").finish_fallback_notes
    said = "quads failed their check (holes): made 5,000 triangles instead"
    records = [{"finish": {"fallback": said}}, {"finish": {"fallback": said}}, {"finish": {"fallback": None}},
               {"finish": "odd"}, {"finish": {"fallback": 3}}, {}]
    # Each record as another process wrote it (a target's name and all), and one that is not a record at all.
    data = {"targets": [{"target": "box", **record} for record in records] + ["odd"]}
    assert notes(data) == [said[:1].upper() + said[1:]]
    assert notes({"targets": "odd"}) == notes({}) == []


def test_the_views_sentences_reach_the_report_once_each(addon) -> None:
    """A view the backend left out (each instance of its name carries the sentence) and a shape made
    from the front alone are said in Blender, each once."""
    job = _module(addon, "operators._job")
    protocol = job.protocol
    left_out = "the back view of 'barrel' was left out: its cut-out is empty (nothing was found in it)"
    shape_skipped = "the licence-clean family's shape model takes one picture: the views were used for the texture"
    targets = tuple(protocol.TargetResult(target="barrel", instance=i, views_left_out={"back": left_out}) for i in (1, 2))
    result = protocol.GenerateJobResult(run_dir="r", targets=targets, views_shape_skipped=shape_skipped)
    assert job.views_left_out_notes(result) == [left_out[:1].upper() + left_out[1:]]
    assert shape_skipped[:1].upper() + shape_skipped[1:] in job.skipped_stage_notes(result)
    assert job.views_left_out_notes(protocol.GenerateJobResult(run_dir="r")) == []
    assert job.views_left_out_notes(None) == []


def test_a_glb_of_two_mesh_nodes_arrives_as_one_object(addon, scene, tmp_path) -> None:
    """Folding a file of several mesh nodes into one joined them, then read the joined objects' names once the join
    had freed them: a ReferenceError traceback, one stray object, and the run's other objects never imported."""
    parts = []
    for offset in (0.0, 3.0):
        bpy.ops.mesh.primitive_cube_add(location=(offset, 0.0, 0.0))
        parts.append(bpy.context.active_object)
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj in parts)
    path = tmp_path / "two_nodes.glb"
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", use_selection=True)
    for obj in parts:
        bpy.data.objects.remove(obj)
    before = set(bpy.data.objects)
    obj = _module(addon, "scene_import").import_glb(path, "barrel")
    assert obj.name == "barrel" and set(bpy.data.objects) - before == {obj} and len(obj.data.polygons) == 24
    bpy.data.objects.remove(obj)
