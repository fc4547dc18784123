"""The rest of the chain outside Blender: the Python API, ``relayout RUN_DIR`` and ``retexture MESH IMAGE``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from cli_inprocess import RunCli
from img23d_protocol import ErrorCode
from testdata import FAST_OPTIONS, HOUSE, SUBJECT
from img23d_backend import api
from img23d_backend.readers.meshes import artist_mesh_file
from img23d_backend.readers.artist_mesh import load_artist_mesh

pytestmark = pytest.mark.lane_a  # in lane A, where its command-line tests ran as processes before (the lanes' balance)


@pytest.fixture(scope="module")
def session(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory):
    with api.Session(tmp_path_factory.mktemp("runs"), api.Models(models="tiny", device="cpu")) as session:
        yield session


@pytest.fixture(scope="module")
def house_run(session: api.Session) -> api.GenerateResult:
    return session.generate(HOUSE, ["house", "chimney"], api.JobOptions(**FAST_OPTIONS))


def test_the_api_generates_one_mesh_per_name(house_run: api.GenerateResult) -> None:
    assert [(m.target, m.status) for m in house_run.meshes] == [("house", "done"), ("chimney", "done")]
    assert all(m.mesh is not None and m.mesh.is_file() and m.mesh.parent == house_run.run_dir for m in house_run.meshes)
    assert house_run.names == ["house", "chimney"] and not house_run.failed


def test_relayout_with_the_jobs_settings_gives_the_jobs_placements(house_run: api.GenerateResult) -> None:
    manifest = json.loads((house_run.run_dir / "manifest.json").read_text())
    again = api.relayout(house_run.run_dir)
    for record in manifest["records"]:
        mine, theirs = again.placements[record["stem"]], record["placement"]
        assert mine["location"] == pytest.approx(theirs["location"])
        assert (mine["scale"], mine["yaw"]) == pytest.approx((theirs["scale"], theirs["yaw"]))
    assert json.loads(again.written.read_text())["placements"] == json.loads(json.dumps(again.placements))
    assert json.loads((house_run.run_dir / "manifest.json").read_text()) == manifest  # never rewritten


def test_relayout_from_the_command_line_for_another_field_of_view(cli: RunCli, house_run: api.GenerateResult) -> None:
    # The commands in this process (cli_inprocess): their subject is what they write and say; a process of its own
    # paid seconds of imports first.
    job = api.relayout(house_run.run_dir)
    out = cli("relayout", house_run.run_dir, "--fov", "20", "--no-estimate-fov", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["camera"]["fov_degrees"] == 20 and set(data["placements"]) == set(job.placements)
    assert all(data["placements"][k]["location"] != pytest.approx(job.placements[k]["location"])
               for k in job.placements)  # a narrower view stands them elsewhere
    missing = cli("relayout", house_run.run_dir / "nothing-here")
    assert missing.returncode == 2 and "is not a run folder img23d can read" in missing.stderr


def _sphere(path: Path, with_uvs: bool) -> Path:
    sphere = trimesh.creation.uv_sphere(count=[16, 24])
    if with_uvs:
        x, y, z = sphere.vertices.T
        uv = np.stack([(np.arctan2(y, x) / (2 * np.pi)) % 1.0, np.arccos(np.clip(z, -1, 1)) / np.pi], axis=1)
        sphere.visual = trimesh.visual.TextureVisuals(uv=uv)
    sphere.export(path)
    return path


def test_retexture_paints_a_glb_keeping_its_triangles(session: api.Session, tmp_path: Path) -> None:
    mesh = _sphere(tmp_path / "ball.glb", with_uvs=False)
    faces = len(trimesh.load(mesh, force="mesh", process=False).faces)
    options = api.JobOptions(texture_size=256, render_size=256, paint_steps=2, delight_steps=2, face_budget=0)
    result = session.retexture(mesh, SUBJECT, options, name="../../ball")  # a name that is no file name
    # The painted GLB stays in the run folder: the name went into its path as it was, and over a file two
    # folders up (a user's own) the GLB was written.
    assert result.mesh.parent == result.run_dir and result.mesh.name.startswith("ball-")
    assert not (result.run_dir.parent.parent / "ball.glb").exists()
    assert Image.open(result.texture).size == (256, 256) and result.faces == faces
    assert result.uv_created and np.load(result.uvs).shape == (faces * 3, 2)  # one per triangle corner
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["records"][0]["target"] == "../../ball"
    painted = trimesh.load(result.mesh, force="mesh", process=False)  # the same triangles, textured
    original = trimesh.load(mesh, force="mesh", process=False)
    assert len(painted.faces) == faces and painted.visual.material.baseColorTexture.size == (256, 256)
    corners = np.asarray(painted.vertices)[painted.faces]
    assert np.allclose(np.sort(corners.reshape(-1, 3), axis=0), np.sort(np.asarray(original.vertices)[
        original.faces].reshape(-1, 3), axis=0), atol=1e-5)  # where they were, in glTF's axes again


def test_a_glb_becomes_the_addons_mesh_arrays_in_blenders_axes(tmp_path: Path) -> None:
    mesh = _sphere(tmp_path / "ball.glb", with_uvs=True)
    loaded = trimesh.load(mesh, force="mesh", process=False)
    with artist_mesh_file(mesh) as npz:
        arrays = dict(np.load(npz))
        artist = load_artist_mesh(npz)  # what the job reads: it takes it
    x, y, z = np.asarray(loaded.vertices).T
    assert np.allclose(arrays["positions"], np.stack([x, -z, y], axis=1), atol=1e-6)  # glTF Y up -> Z up
    assert np.array_equal(arrays["triangles"], loaded.faces)
    assert np.allclose(arrays["loop_uvs"], np.asarray(loaded.visual.uv)[loaded.faces].reshape(-1, 2))
    assert artist.face_count == len(loaded.faces) and artist.loop_uvs is not None


def test_retexture_refuses_a_file_that_is_not_a_mesh(cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a mesh")
    out = cli("retexture", tmp_path / "notes.txt", SUBJECT, "--models", "tiny", "--device", "cpu",
              "--out", tmp_path / "runs")
    assert out.returncode == 2 and "notes.txt is not a mesh file img23d reads" in out.stderr


def test_the_apis_names_as_text_are_read_as_targets_reads_them(session: api.Session,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``generate(image, "lamp (shade, arm), table")`` split the text at every comma ("lamp (shade" and "arm)"): it
    is read as --targets reads it, the lamp made in parts too. The request is caught before it runs."""
    sent = []

    def caught(request: object, job: object) -> None:
        sent.append(request)
        raise api.ProtocolError(ErrorCode.CANCELLED, "caught before it ran")

    monkeypatch.setattr(session.engine, "run", caught)
    with pytest.raises(api.ProtocolError, match="caught before it ran"):
        session.generate(HOUSE, "lamp (shade, arm), table")
    assert sent[0].targets == ["lamp", "table"] and sent[0].parts == {"lamp": ["shade", "arm"]}


@pytest.mark.parametrize("values, named", [({"steps": -1}, "steps"), ({"min_piece": 5.0}, "min_piece"),
                                           ({"octree_resolution": 4}, "octree_resolution"),
                                           ({"face_budget": 7}, "face_budget")])
def test_the_apis_options_are_checked_against_their_ranges_before_anything_runs(
        session: api.Session, tmp_path: Path, values: dict, named: str) -> None:
    """The command line, the wire and the add-on check every option's range; a pipeline calling the API got a
    traceback (steps -1), every face dropped (min_piece 5) or a face budget under its least: one sentence now,
    before a run folder is made."""
    runs = set(session.engine.settings.runs_dir.iterdir())
    with pytest.raises(api.ProtocolError, match=named) as refused:
        session.generate(HOUSE, ["house"], api.JobOptions(**{**FAST_OPTIONS, **values}))
    assert refused.value.code is ErrorCode.BAD_REQUEST
    assert set(session.engine.settings.runs_dir.iterdir()) == runs


def test_paint_steps_past_the_models_most_are_said_and_recorded_as_run(session: api.Session,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """The turbo paint model runs at most 30: 31 was cut to 30 in silence, and the manifest (the request's
    options, as the engine leaves them) recorded 31."""
    from img23d_backend.jobs.engine import _paint_steps_that_run

    spec = session.engine.manager.spec("paint")
    with caplog.at_level("WARNING"):
        ran = _paint_steps_that_run(api.JobOptions(paint_steps=31), spec)
    assert ran.paint_steps == spec.paint_kind.max_steps == 30
    assert "runs at most 30 paint steps: 31 asked for, 30 run" in caplog.text
    assert _paint_steps_that_run(api.JobOptions(paint_steps=12), spec).paint_steps == 12


def test_numpys_numbers_are_numbers_to_the_api(session: api.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """A seed from rng.integers, a np.float32 guidance and a box from np.array were refused once the engine
    checked the API's options ("seed=850 is out of range", "must be four numbers")."""
    sent = []

    def caught(kind: object, request: object, job: object) -> None:
        sent.append(request)
        raise api.ProtocolError(ErrorCode.CANCELLED, "checked, caught before it ran")

    monkeypatch.setattr(session.engine, "run_kind", lambda kind, request, job: (
        session.engine._prepared(kind, request, job), caught(kind, request, job)))
    options = api.JobOptions(**{**FAST_OPTIONS, "seed": np.int64(850), "guidance_scale": np.float32(5.0)})
    with pytest.raises(api.ProtocolError, match="checked, caught before it ran"):
        session.generate(HOUSE, ["chimney"], options, boxes={"chimney": list(np.array([600, 80, 760, 600]))})
    [request] = sent
    assert request.options.seed == 850 and type(request.options.seed) is int
    assert request.boxes == {"chimney": [600.0, 80.0, 760.0, 600.0]}


@pytest.mark.parametrize("option, value", [("variations", 2.5), ("steps", 2.5), ("seed", 0.5), ("seed", True)])
def test_a_fraction_for_a_whole_number_is_one_sentence_before_anything_runs(session: api.Session, option: str,
                                                                            value: object) -> None:
    """Issue 88: variations=2.5 and steps=2.5 ended in a TypeError's traceback once the models had loaded; seed=0.5 ran
    as seed 0 while the manifest kept 0.5, which no reader took back. The wire refused them; the API now does too."""
    runs = session.engine.settings.runs_dir
    before = set(runs.iterdir())
    with pytest.raises(api.ProtocolError) as caught:
        session.generate(HOUSE, ["house"], api.JobOptions(**{**FAST_OPTIONS, option: value}))
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert caught.value.message.startswith(f"option {option}={value!r} is not a whole number: it must be a whole number")
    assert set(runs.iterdir()) == before   # nothing written
