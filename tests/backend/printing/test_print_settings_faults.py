"""Faults a hostile tester found in ``print`` (issue 97), each injected as the artist would meet it, on the command
line in this process and through the add-on's print job: drain holes that would take the object, a stray triangle
beside or through the body, a 10,000-character name, a height too low for the default flat base. Each is one
sentence (or a repair said), never a traceback, and what can be printed still is."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import manifold3d
import numpy as np
import pytest
import trimesh
from img23d_protocol import (ErrorCode, MeshFile, PrintRequest, ProtocolError, check_print_request,
                             check_print_settings, write_mesh_file)
from img23d_protocol.prints import DEFAULTS, shown_name, wire_label

from cli_inprocess import RunCli, run_cli
from run_files import two_object_run
from img23d_backend.jobs.context import Job
from img23d_backend.jobs.engine import JOBS
from img23d_backend.printing import prepare
from img23d_backend.printing.record import ObjectRecord
from img23d_backend.printing.repair import Repaired
from img23d_backend.printing.scale import reference_of
from img23d_backend.printing.sources import PrintSource
from img23d_backend.printing.thickness import thinnest_wall

LONG = "x" * 10_000


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    return partial(run_cli, capsys)


def _box_file(path: Path, extents: tuple[float, float, float]) -> Path:
    """A box as a GLB (glTF is Y up: ``extents[1]`` is its height)."""
    trimesh.creation.box(extents=extents).export(path)
    return path


def _obj(path: Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """An OBJ written as is (trimesh's export would merge or drop what the test means to send)."""
    lines = [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _refused(out: object) -> str:
    """The one sentence a refused command said, after checking it was one line, exit 2, no traceback."""
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stdout + out.stderr  # type: ignore[attr-defined]
    lines = out.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _folder(out: object) -> Path:
    return Path(out.stdout.split("print folder: ")[1].strip())  # type: ignore[attr-defined]


# 1. Drain holes that would take the object.

@pytest.mark.parametrize("height", ["10", "100"])
def test_drain_holes_wider_than_the_object_are_refused_up_front(tmp_path: Path, cli: RunCli, height: str) -> None:
    """A 30 mm drain through a box 10 mm (or, taller, 20 mm) across drilled it to nothing (a TypeError in the wall
    measurement) or to a slab that failed its own height check: now one sentence, before any hollowing."""
    box = _box_file(tmp_path / "BOX.glb", (0.2, 1.0, 0.2))
    out = cli("print", box, "--height-mm", height, "--hollow", "--wall-mm", "0.4", "--drain-holes", "8",
              "--drain-mm", "30", "--out", tmp_path / "runs")
    said = _refused(out)
    assert said == ("error: BOX's 30 mm drain holes are wider than its base: drilled, they would take the object; "
                    "give narrower drain holes, or none [bad_request]")
    assert "BOX: hollowing" not in out.stdout  # refused before the hollowing began
    assert not (tmp_path / "runs").exists()


def test_drain_holes_that_would_take_most_of_the_base_are_refused(tmp_path: Path, cli: RunCli) -> None:
    """Eight 6 mm holes fit one by one in a 20 mm cube's base, but together they are 226 of its 400 mm²."""
    cube = _box_file(tmp_path / "cube.glb", (1.0, 1.0, 1.0))
    out = cli("print", cube, "--height-mm", "20", "--base-mm", "0", "--hollow", "--wall-mm", "1",
              "--drain-holes", "8", "--drain-mm", "6", "--out", tmp_path / "runs")
    assert _refused(out) == ("error: cube's 8 drain holes of 6 mm would take 226 mm² of its 400 mm² base, more than "
                             "half: give fewer or narrower drain holes, or none [bad_request]")


def _mesh_file(path: Path, extents: tuple[float, float, float], x: float) -> str:
    """A box as the add-on writes an object in world space (Z up), its bottom centre at (x, 0, 0)."""
    box = trimesh.creation.box(extents=extents)
    positions = np.asarray(box.vertices) + [x, 0.0, extents[2] / 2]
    faces = np.asarray(box.faces, dtype=np.int32)
    write_mesh_file(path, MeshFile(positions=positions.astype(np.float32), triangles=faces,
                                   triangle_loops=np.arange(faces.size, dtype=np.int32).reshape(-1, 3)))
    return str(path)


def test_print_selected_says_the_drain_sentence_and_prints_the_rest(tmp_path: Path) -> None:
    """Through the add-on's job the artist read "[internal] TypeError"; now the pillar's sentence, the crate printed."""
    meshes = {"crate": _mesh_file(tmp_path / "crate.npz", (2, 2, 2), 0.0),
              "pillar": _mesh_file(tmp_path / "pillar.npz", (0.5, 0.5, 2), 4.0)}
    request = PrintRequest(id="d1", meshes=meshes, object="crate", height_mm=10, base_mm=0, hollow=True,
                           wall_mm=1.0, drain_mm=5.0)
    engine = SimpleNamespace(settings=SimpleNamespace(runs_dir=tmp_path / "runs"))
    result = JOBS[PrintRequest](engine, request, Job(id="d1", emit=lambda event: None))  # type: ignore[arg-type]
    crate, pillar = result.objects
    assert crate.printed and crate.watertight and not pillar.printed
    assert pillar.refused == ("pillar's 5 mm drain holes are wider than its base: drilled, they would take the "
                              "object; give narrower drain holes, or none")
    assert pillar.refused in result.said and not any("internal" in line for line in result.said)
    record = json.loads(Path(result.record).read_text(encoding="utf-8"))
    assert record["objects"][0]["hollow"]["hollow"] and record["objects"][0]["hollow"]["drained"]


def test_a_solid_drilled_to_nothing_is_a_sentence_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the up-front check (switched off here), holes that take everything leave an empty solid: one
    sentence in the object's record, and nothing reaches the wall measurement."""
    monkeypatch.setattr(prepare, "drains_refused", lambda *_: None)
    measured: list[int] = []
    monkeypatch.setattr(prepare, "thinnest_wall", lambda *args: measured.append(1))
    item = prepare.Prepared(PrintSource("slab", "slab", None), ObjectRecord("slab", "slab", ""),
                            repaired=Repaired(manifold3d.Manifold.cube((10.0, 10.0, 10.0))),
                            matrix=np.hstack([np.eye(3), [[-5.0], [-5.0], [0.0]]]), world_height=10.0)
    settings = PrintRequest(height_mm=10, hollow=True, wall_mm=0.4, drain_holes=8, drain_mm=30, base_mm=0)
    prepare.make_ready(item, 1.0, settings, lambda _: None)
    assert item.record.refused == ("slab has nothing left once hollowed and drilled: give narrower or fewer drain "
                                   "holes, or print it solid")
    assert not item.ready and measured == []


def test_the_wall_measurement_of_an_empty_solid_is_nothing_not_a_crash() -> None:
    walls = thinnest_wall(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), 0.8)
    assert (walls.thinnest_mm, walls.least_mm, walls.where, walls.thin_share) == (None, None, None, 0.0)


# 2. A piece of one triangle.

def test_a_stray_triangle_beside_the_body_is_left_out_and_the_body_prints(tmp_path: Path, cli: RunCli) -> None:
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    stray = np.array([[2.0, 0.0, 0.0], [2.5, 0.0, 0.0], [2.0, 0.5, 0.2]])
    mesh = _obj(tmp_path / "crate.obj", np.vstack([box.vertices, stray]), np.vstack([box.faces, [[8, 9, 10]]]))
    out = cli("print", mesh, "--height-mm", "20", "--base-mm", "0", "--out", tmp_path / "runs")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
    crate = json.loads((_folder(out) / "print.json").read_text(encoding="utf-8"))["objects"][0]
    assert crate["printed"] and crate["repairs"] == ["left out 1 loose bit of fewer than four faces"]
    assert crate["size_mm"] == pytest.approx([20.0, 20.0, 20.0], abs=1e-3)  # the body alone, not the triangle
    assert all(check["passed"] for check in crate["checks"])


def test_a_triangle_through_a_tetrahedron_is_left_out_and_the_tetrahedron_prints(tmp_path: Path,
                                                                                  cli: RunCli) -> None:
    tetrahedron = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    faces = [[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]]  # outward
    through = np.array([[-0.5, 0.2, 0.2], [1.5, 0.2, 0.2], [0.2, 0.2, 1.5]])  # crosses the body
    mesh = _obj(tmp_path / "spike.obj", np.vstack([tetrahedron, through]), np.array([*faces, [4, 5, 6]]))
    out = cli("print", mesh, "--height-mm", "20", "--base-mm", "0", "--out", tmp_path / "runs")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
    spike = json.loads((_folder(out) / "print.json").read_text(encoding="utf-8"))["objects"][0]
    assert spike["repairs"] == ["left out 1 loose bit of fewer than four faces"] and spike["rebuilt_cell_mm"] is None
    assert spike["volume_mm3"] == pytest.approx(20 ** 3 / 6, rel=1e-4)  # the tetrahedron, not a grid's rebuild
    assert all(check["passed"] and check["self_intersections"] == 0 for check in spike["checks"])


# 3. A name of 10,000 characters.

def test_a_long_object_name_is_cut_in_its_refusal(tmp_path: Path, cli: RunCli) -> None:
    box = _box_file(tmp_path / "crate.glb", (1.0, 1.0, 1.0))
    said = _refused(cli("print", box, "--height-mm", "20", "--object", LONG, "--out", tmp_path / "runs"))
    assert said == f"error: --object '{'x' * 79}…' is not among the printed objects (crate) [bad_request]"


def test_a_long_only_name_is_cut_in_its_refusal(tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path)
    said = _refused(cli("print", run, "--height-mm", "20", "--only", LONG))
    assert said == (f"error: {run.name} has no object named '{'x' * 79}…': its objects are house, chimney "
                    "[bad_request]")
    assert not list(run.glob("print*"))


def test_every_refusal_that_echoes_a_name_cuts_it() -> None:
    with pytest.raises(ProtocolError) as unread:
        reference_of([LONG], [LONG], {}, LONG)  # named, but not read
    assert unread.value.message == f"--object {'x' * 79}…: that object could not be read, so the others cannot be " \
                                   "scaled to it"
    name = "y" * 200  # the longest name the wire takes
    with pytest.raises(ProtocolError) as wire:
        check_print_request(PrintRequest(id="n1", meshes={"crate": "/a.npz"}, object=name, height_mm=20))
    assert wire.value.message == f"object '{'y' * 79}…' is not among the printed objects (crate)"
    assert shown_name("crate") == "crate" and len(shown_name(LONG)) == 80


# 4. A height too low for the default flat base.

def test_a_height_below_the_default_base_names_the_height_and_the_least_it_allows(tmp_path: Path,
                                                                                  cli: RunCli) -> None:
    box = _box_file(tmp_path / "crate.glb", (1.0, 1.0, 1.0))
    said = _refused(cli("print", box, "--height-mm", "1", "--out", tmp_path / "runs"))
    assert said == ("error: --height-mm 1 is too low for the default 1 mm flat base cut off the bottom: give "
                    "--height-mm more than 2 mm, or a smaller --base-mm (0: none)")
    assert not (tmp_path / "runs").exists()
    done = cli("print", box, "--height-mm", "1", "--base-mm", "0", "--out", tmp_path / "runs")  # as it advises
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_base_sentence_reads_right_on_the_wire_and_for_a_base_given() -> None:
    values = {"height_mm": 1.0, "hollow": False, **DEFAULTS}
    with pytest.raises(ProtocolError) as default:
        check_print_settings(values, wire_label)
    assert default.value.code is ErrorCode.BAD_REQUEST and default.value.message == (
        "height_mm 1 is too low for the default 1 mm flat base cut off the bottom: give height_mm more than 2 mm, "
        "or a smaller base_mm (0: none)")
    with pytest.raises(ProtocolError) as given:
        check_print_settings({**values, "height_mm": 4.0, "base_mm": 2.0}, lambda name: "--" + name.replace("_", "-"))
    assert given.value.message == ("--base-mm 2 would cut off half the 4 mm object or more: give a smaller flat base "
                                   "(under 2 mm), or --height-mm more than 4 mm")
