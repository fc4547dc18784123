"""The game-ready finish in the jobs: Generate (and the CLI) with a topology, and the retopo job and command.

Tiny models, small meshes (300 faces, 128 px bakes): a finished object's GLB is the low mesh
(triangles whose leading pairs are its quads, extras img23d_quads, a normal texture, a base colour
texture when the job painted), the generated mesh is kept as high/<stem>.glb and announced first,
the manifest says what was made; a fallback is said once; as-generated jobs write what they always
wrote; the retopo command loads no model; bad flags are one sentence.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest
import trimesh

import glb_credits
from backend_proc import BackendProcess
from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE, MESH, SOURCE_PYTHONPATH, SUBJECT
from img23d_backend.batch.dispatch import apply_result
from img23d_backend.batch.driver import BatchEvent, BatchReport
from img23d_backend.batch.progress import BatchPrinter
from img23d_backend.batch.record import Entry
from img23d_backend.batch.settings import BatchSettings
from img23d_backend.batch.items import WorkerSettings, WorkItem
from img23d_backend.batch.work import Worker
from img23d_backend.commands import cli
from img23d_backend.finish import instant_meshes
from img23d_backend.finish.glb import QUADS_EXTRA, read_glb_json
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.jobs.steps import finishing
from img23d_backend.catalog import tiny_model_set
from img23d_backend.session import Models, Session
from img23d_protocol import (Artifact, ErrorCode, GenerateJobResult, GenerateRequest, JobOptions, Progress,
                             ProtocolError, RegenerateRequest, RetopoRequest)

pytestmark = pytest.mark.process  # its subject is img23d's processes (pytest.ini)

FINISH = {"topology": "quads", "face_target": 300, "bake_size": 128}


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


Made = tuple[GenerateJobResult, list]  # a Generate job's result and its events


def _generate(engine: Engine, **options) -> Made:
    events: list = []
    request = GenerateRequest(id="g", image=str(HOUSE), targets=["chimney"],
                              options=JobOptions(**{**FAST_OPTIONS, "seed": 5, **options}))
    return engine.run(request, Job(id="g", emit=events.append)), events


@pytest.fixture(scope="module")
def painted(engine: Engine) -> Made:
    return _generate(engine, **FAST_PAINT, **FINISH)


def _pairs_share_an_edge(faces: np.ndarray, quads: int) -> bool:
    return all(len(set(faces[2 * k]) & set(faces[2 * k + 1])) == 2 for k in range(quads))


def _welded(mesh: trimesh.Trimesh) -> np.ndarray:
    """Faces on welded positions (the GLB splits vertices along UV seams)."""
    _, index = np.unique(np.round(mesh.vertices, 6), axis=0, return_inverse=True)
    return index.reshape(-1)[mesh.faces]


def test_a_textured_generate_with_quads_writes_the_low_mesh_and_keeps_the_high(painted: Made) -> None:
    data, events = painted
    [target] = data.targets
    run = Path(data.run_dir)
    finish = target.finish
    assert finish.topology == "quads" and finish.target == 300 and finish.bake_size == 128
    assert finish.method == "instant-meshes" and finish.fallback is None and finish.coloured
    quads = finish.quads
    assert quads == finish.faces_out and abs(quads - 300) <= 0.15 * 300
    glb = run / target.mesh
    assert glb == run / "chimney.glb"
    gltf = read_glb_json(glb)
    [mesh_json] = gltf["meshes"]
    assert mesh_json["extras"] == {QUADS_EXTRA: quads}
    [primitive] = mesh_json["primitives"]
    assert {"POSITION", "NORMAL", "TEXCOORD_0"} <= set(primitive["attributes"])
    [material] = gltf["materials"]
    assert "normalTexture" in material and "baseColorTexture" in material["pbrMetallicRoughness"]
    # The material step's maps follow the colour onto the low mesh (issue 47), the factors left to them.
    pbr = material["pbrMetallicRoughness"]
    assert "metallicRoughnessTexture" in pbr and finish.metallic_roughness
    assert pbr.get("metallicFactor", 1.0) == 1.0 and pbr.get("roughnessFactor", 1.0) == 1.0
    assert len(gltf["images"]) == 3
    low = trimesh.load(glb, force="mesh", process=False)
    assert len(low.faces) == 2 * quads  # all quads: quad k is triangles 2k and 2k + 1
    assert _pairs_share_an_edge(_welded(low), quads)
    # The generated mesh, painted, is kept and announced before the low one.
    high = run / "high" / "chimney.glb"
    assert finish.high_mesh == "high/chimney.glb"
    high_mesh = trimesh.load(high, force="mesh", process=False)
    assert len(high_mesh.faces) == target.faces > len(low.faces)
    assert high_mesh.visual.material.baseColorTexture is not None
    kinds = [(e.kind, Path(e.path).name) for e in events if isinstance(e, Artifact) and e.kind != "run"]
    finished = [k for k in kinds if k[0] in ("high_mesh", "mesh")]
    assert finished == [("high_mesh", "chimney.glb"), ("mesh", "chimney.glb")]
    announced = [e for e in events if isinstance(e, Artifact) and e.kind == "high_mesh"][0]
    assert (announced.target, announced.seed, announced.box) == ("chimney", target.seed, target.box)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["records"][0]["finish"] == finish.to_dict() and manifest["options"]["topology"] == "quads"


def test_a_generates_glbs_name_the_models_that_made_them_with_their_licences_and_pass_the_validator(
        painted: Made) -> None:
    data, _ = painted
    run = Path(data.run_dir)
    used = {role: entry["id"] for role, entry in json.loads((run / "manifest.json").read_text())["models"].items()}
    for glb in (run / "chimney.glb", run / "high" / "chimney.glb"):
        made = glb_credits.models(glb)
        assert {"grounding", "matting", "shape", "paint", "materials"} <= set(made), made
        assert all(used[role] == model for role, model in made.items() if role in used)
    assert glb_credits.credits(run / "chimney.glb") == glb_credits.credits(run / "high" / "chimney.glb")
    glb_credits.assert_valid(run / "chimney.glb", run / "high" / "chimney.glb")


def test_blender_imports_the_low_mesh_with_its_normal_map_and_quad_count(painted: Made) -> None:
    data, _ = painted
    glb = Path(data.run_dir) / data.targets[0].mesh
    before = set(bpy.data.objects)
    bpy.ops.import_scene.gltf(filepath=str(glb))
    [obj] = set(bpy.data.objects) - before
    try:
        assert obj.data[QUADS_EXTRA] == data.targets[0].finish.quads
        nodes = obj.active_material.node_tree.nodes
        normal_maps = [n for n in nodes if n.type == "NORMAL_MAP"]
        assert normal_maps and normal_maps[0].inputs["Color"].links[0].from_node.type == "TEX_IMAGE"
        principled = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
        assert principled.inputs["Base Color"].links  # the baked colour texture
        # the baked metallicRoughness texture, through Separate Color (Roughness from G, Metallic from B)
        for socket in ("Roughness", "Metallic"):
            [link] = principled.inputs[socket].links
            assert link.from_node.type == "SEPARATE_COLOR"
            assert link.from_node.inputs[0].links[0].from_node.type == "TEX_IMAGE"
    finally:
        mesh = obj.data
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)


def test_as_generated_writes_what_it_always_wrote_and_the_high_mesh_is_that_mesh(engine: Engine) -> None:
    plain, _ = _generate(engine)
    finished, events = _generate(engine, topology="triangles", face_target=300, bake_size=128)
    [record] = plain.targets
    assert record.finish is None
    plain_run, finished_run = Path(plain.run_dir), Path(finished.run_dir)
    assert not (plain_run / "high").exists()
    assert QUADS_EXTRA not in json.dumps(read_glb_json(plain_run / "chimney.glb"))
    # The untextured job's high mesh is byte for byte the GLB the job without a topology wrote.
    assert (finished_run / "high" / "chimney.glb").read_bytes() == (plain_run / "chimney.glb").read_bytes()
    [target] = finished.targets
    assert target.finish.method == "quadric" and target.finish.quads == 0
    assert not target.finish.coloured and not target.textured
    gltf = read_glb_json(finished_run / "chimney.glb")
    assert gltf["meshes"][0]["extras"] == {QUADS_EXTRA: 0}
    assert "normalTexture" in gltf["materials"][0]
    assert "baseColorTexture" not in gltf["materials"][0].get("pbrMetallicRoughness", {})
    assert len(trimesh.load(finished_run / "chimney.glb", force="mesh").faces) <= 300


def _fail(*args, **kwargs):
    raise instant_meshes.InstantMeshesFailed("Instant Meshes' worker died (exit code 1)")


def test_a_fallback_is_said_once_in_progress_manifest_and_summary(tiny_root: Path, tmp_path: Path, monkeypatch,
                                                                  capsys) -> None:
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    monkeypatch.setattr(instant_meshes, "remesh_in_worker", _fail)
    code = cli.main(["generate", str(HOUSE), "--targets", "chimney", "--models", "tiny", "--device", "cpu",
                     "--out", str(tmp_path), "--steps", "3", "--octree-resolution", "32", "--face-budget", "2000",
                     "--no-texture", "--topology", "quads", "--faces", "300", "--bake-size", "128"])
    out, err = capsys.readouterr()
    assert code == 0
    sentence = "quads failed: Instant Meshes' worker died (exit code 1); decimated to"
    assert out.count(sentence) == 1 and f"chimney: {sentence}" in out
    assert err.count(sentence) == 1  # the progress line
    [manifest] = tmp_path.glob("*/manifest.json")
    finish = json.loads(manifest.read_text())["records"][0]["finish"]
    assert finish["fallback"].startswith(sentence) and finish["method"] == "quadric" and finish["quads"] == 0


def test_a_batch_says_each_fallback_on_its_pictures_line_and_in_its_summary(tiny_root: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:
    """A batch worker (in this process) runs a picture whose quads fall back: the record keeps the
    sentence, the picture's line repeats it and the summary counts the picture."""
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    monkeypatch.setattr(instant_meshes, "remesh_in_worker", _fail)
    options = JobOptions(**{**FAST_OPTIONS, "texture": False, "topology": "quads", "face_target": 300,
                            "bake_size": 128})
    worker = Worker(WorkerSettings(Models(models="tiny", device="cpu"), tmp_path))
    entry = Entry(str(HOUSE), "sha", ["chimney"], "key", attempts=1, workers=["local-0"])
    try:
        result = worker.run(WorkItem(0, str(HOUSE), ["chimney"], options))
    finally:
        worker.close()
    apply_result(entry, result, BatchSettings(inputs=[str(HOUSE)], out=tmp_path, options=options))
    sentence = "chimney: quads failed: Instant Meshes' worker died (exit code 1); decimated to"
    assert entry.status == "done" and len(entry.notes) == 1 and entry.notes[0].startswith(sentence)

    out = io.StringIO()
    printer = BatchPrinter(out, io.StringIO())
    counts = {"done": 1, "skipped": 0, "failed": 0, "cancelled": 0, "running": 0, "pending": 0}
    printer(BatchEvent("start", counts={**counts, "done": 0, "pending": 1}, workers=1))
    printer(BatchEvent("picture", entry, 0, counts))
    printer.summary(BatchReport(tmp_path, tmp_path / "batch.json", "finished", counts, [entry], 1.0))
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("[1/1] done    house_scene.png: 1 mesh(es)")
    assert lines[2].startswith(f"      note    {sentence}")
    assert "; 1 made otherwise than asked (their notes above); record: " in lines[3]


def test_the_retopo_command_loads_no_model(tmp_path: Path) -> None:
    """A model set that is not on disk, offline: the command runs, since it loads none."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCE_PYTHONPATH, os.environ.get("PYTHONPATH", "")]),
           "HF_HOME": str(tmp_path / "empty-hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "img23d_backend", "retopo", str(MESH), "--name", "house",
                           "--models", "default", "--offline", "--device", "cpu", "--out", str(tmp_path / "runs"),
                           "--topology", "quads", "--faces", "300", "--bake-size", "128"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    [run] = (tmp_path / "runs").iterdir()
    finish = json.loads((run / "manifest.json").read_text())["records"][0]["finish"]
    quads = finish["quads"]
    assert finish["method"] == "instant-meshes" and abs(quads - 300) <= 45 and finish["faces_in"] == 40_000
    assert read_glb_json(run / "house.glb")["meshes"][0]["extras"] == {QUADS_EXTRA: quads}
    assert len(trimesh.load(run / "house.glb", force="mesh").faces) == 2 * quads
    assert (run / "high" / "house.glb").is_file() and (run / "input_mesh.npz").is_file()
    assert f"mesh: {run / 'house.glb'} ({quads:,} quads" in done.stdout


def test_retopo_bakes_a_textured_meshs_colour(engine: Engine, painted: Made) -> None:
    high = Path(painted[0].run_dir) / "high" / "chimney.glb"
    events: list = []
    result = Session(engine.settings.runs_dir, Models(models="tiny"), engine=engine).retopo(
        high, JobOptions(topology="quads", face_target=200, bake_size=128), name="chimney", events=events.append)
    assert result.finish["coloured"] and result.finish["method"] == "instant-meshes" and result.fallback is None
    # The GLB's vertices are split along its UV seams; the remeshing saw one closed surface.
    def closed(path: Path) -> bool:  # with the copies of each position its UV seams made merged
        mesh = trimesh.load(path, force="mesh", process=False)
        return trimesh.Trimesh(mesh.vertices, _welded(mesh), process=False).is_watertight

    assert closed(high) and closed(result.mesh)
    material = read_glb_json(result.mesh)["materials"][0]
    assert "baseColorTexture" in material["pbrMetallicRoughness"] and "normalTexture" in material
    kinds = [e.kind for e in events if isinstance(e, Artifact) and e.kind != "run"]
    assert kinds == ["high_mesh", "mesh"]
    assert any(isinstance(e, Progress) and e.stage == "finish" for e in events)


@pytest.mark.parametrize(("argv", "said"), [
    (["--topology", "ngons"], "argument --topology: invalid choice: 'ngons'"),
    (["--faces", "10"], "error: --faces 10 is out of range: it must be"),
    (["--bake-size", "1000"], "error: --bake-size 1000 is out of range: it must be"),
])
@pytest.mark.parametrize("command", [["generate", str(HOUSE)], ["retopo", str(MESH)]])
def test_bad_finish_flags_are_one_sentence(command: list[str], argv: list[str], said: str, tmp_path: Path,
                                           capsys) -> None:
    try:
        code = cli.main([*command, "--models", "tiny", "--out", str(tmp_path), *argv])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and said in err
    assert not any(tmp_path.iterdir())  # refused before anything was made


def _sphere_file(folder: Path, **colour: np.ndarray) -> Path:
    """A closed sphere as the add-on's mesh file (Blender's axes), with per-corner UVs (a seam at the
    back), and ``colour`` (base_color or vertex_colors) beside it."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    loops = np.arange(sphere.faces.size).reshape(-1, 3)
    corners = sphere.vertices[sphere.faces].reshape(-1, 3)
    uvs = np.stack([np.arctan2(corners[:, 1], corners[:, 0]) / (2 * np.pi) + 0.5,
                    np.arccos(np.clip(corners[:, 2], -1, 1)) / np.pi], axis=1)
    path = folder / "sphere.npz"
    np.savez(path, positions=sphere.vertices.astype(np.float32), triangles=sphere.faces, triangle_loops=loops,
             loop_uvs=uvs.astype(np.float32), **colour)
    return path


def test_a_retopo_request_over_the_protocol(backend_env: dict[str, str], tmp_path: Path) -> None:
    """Blender's way in: a mesh file with its colour image; high_mesh before mesh; stdout only protocol."""
    image = np.zeros((64, 64, 4), dtype=np.uint8)
    image[:32, :, 0] = 255  # top half red (v > 0.5), bottom half blue
    image[32:, :, 2] = 255
    image[..., 3] = 255
    mesh = _sphere_file(tmp_path, base_color=image)
    proc = BackendProcess(backend_env, tmp_path / "runs")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        reply = proc.request({"type": "retopo", "id": "t", "mesh": str(mesh), "name": "ball",
                              "options": {"topology": "quads", "face_target": 300, "bake_size": 128}}, timeout=120)
        assert reply["type"] == "result", reply
        kinds = [e["kind"] for e in proc.seen if e["type"] == "artifact" and e["kind"] != "run"]
        assert kinds == ["high_mesh", "mesh"]
        finish = reply["data"]["finish"]
        assert finish["method"] == "instant-meshes" and finish["coloured"] and finish["fallback"] is None
        low = trimesh.load(reply["data"]["mesh"], force="mesh", process=False)
        assert len(low.faces) == 2 * finish["quads"]
        colours = np.asarray(low.visual.material.baseColorTexture.convert("RGB"), dtype=float)
        # The baked colour keeps the two halves: as much red as blue, and little of anything else.
        red, blue = (colours[..., 0] > 200).mean(), (colours[..., 2] > 200).mean()
        assert red > 0.2 and blue > 0.2 and abs(red - blue) < 0.15
        assert proc.request({"type": "status", "id": "s"})["type"] == "result"
        assert proc.garbage == []  # Instant Meshes and xatlas printed nothing onto the protocol
    finally:
        proc.close()


def test_retopo_bakes_vertex_colours_and_refuses_a_bad_colour_array(engine: Engine, tmp_path: Path) -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4)
    colours = np.zeros((len(sphere.vertices), 4), dtype=np.uint8)
    colours[:, 1], colours[:, 3] = 255, 255
    mesh = _sphere_file(tmp_path, vertex_colors=colours)
    options = JobOptions(topology="triangles", face_target=400, bake_size=128)
    data = engine.run(RetopoRequest(id="v", mesh=str(mesh), name="ball", options=options),
                      Job(id="v", emit=lambda e: None))
    baked = trimesh.load(data.mesh, force="mesh", process=False).visual.material.baseColorTexture
    assert np.median(np.asarray(baked.convert("RGB")), axis=(0, 1)).tolist() == [0, 255, 0]
    bad = _sphere_file(tmp_path, vertex_colors=colours[:10])
    with pytest.raises(ProtocolError) as refused:
        engine.run(RetopoRequest(id="b", mesh=str(bad), name="ball", options=options),
                   Job(id="b", emit=lambda e: None))
    assert refused.value.code is ErrorCode.BAD_REQUEST and "vertex_colors" in refused.value.message
    with pytest.raises(ProtocolError, match="'as-generated' would leave it as it is"):
        engine.run(RetopoRequest(id="a", mesh=str(mesh), name="ball", options=JobOptions()),
                   Job(id="a", emit=lambda e: None))


def test_regenerate_follows_its_finishing_options(engine: Engine, painted: Made) -> None:
    events: list = []
    request = RegenerateRequest(id="r", run=painted[0].run_dir, keys=["chimney"],
                                options=JobOptions(**{**FAST_OPTIONS, "seed": 9, **FINISH}))
    data = engine.run(request, Job(id="r", emit=events.append))
    [target] = data.targets
    run = Path(data.run_dir)
    assert target.finish.quads > 0 and (run / "high" / "chimney.glb").is_file()
    assert read_glb_json(run / "chimney.glb")["meshes"][0]["extras"] == {QUADS_EXTRA: target.finish.quads}
    kinds = [e.kind for e in events if isinstance(e, Artifact) and e.kind in ("high_mesh", "mesh")]
    assert kinds == ["high_mesh", "mesh"]


def test_a_finish_that_fails_keeps_the_object_as_generated(engine: Engine, monkeypatch) -> None:
    def broken_bake(*args, **kwargs):
        raise RuntimeError("no room in the atlas")

    monkeypatch.setattr(finishing, "bake", broken_bake)
    data, events = _generate(engine, **FINISH)
    [target] = data.targets
    assert target.status == "done" and target.finish is None
    assert target.error["message"] == ("finishing 'chimney' failed (RuntimeError: no room in the atlas); "
                                       "kept it as generated")
    assert QUADS_EXTRA not in json.dumps(read_glb_json(Path(data.run_dir) / "chimney.glb"))
    assert [e.kind for e in events if isinstance(e, Artifact) and e.kind in ("high_mesh", "mesh")] == ["mesh"]


def test_retopo_paints_from_a_picture_first(tiny_root: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """``retopo MESH IMAGE``: the mesh is re-textured from the picture, then finished with that colour."""
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    sphere = tmp_path / "ball.glb"
    trimesh.creation.icosphere(subdivisions=3).export(sphere)
    code = cli.main(["retopo", str(sphere), str(SUBJECT), "--models", "tiny", "--device", "cpu",
                     "--out", str(tmp_path / "runs"), "--faces", "200", "--bake-size", "128",
                     "--texture-size", "256", "--paint-steps", "2", "--delight-steps", "2"])
    out = capsys.readouterr().out
    assert code == 0 and f"painted from {SUBJECT}:" in out
    [manifest] = [p for p in (tmp_path / "runs").glob("*/manifest.json") if "retopo" in p.parent.name]
    run = manifest.parent
    assert json.loads(manifest.read_text())["records"][0]["finish"]["coloured"]
    assert "baseColorTexture" in read_glb_json(run / "ball.glb")["materials"][0]["pbrMetallicRoughness"]
    # Painted in a run folder of its own, whose GLB is the high mesh here.
    assert len(list((tmp_path / "runs").iterdir())) == 2
