"""``print`` on the command line, in this process, on small meshes and a two-object run made by hand: what it
writes, what the files read back as (the 3MF parsed with the standard library, as a slicer reads it), and one
sentence for each bad input with nothing lost."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import trimesh

from cli_inprocess import RunCli, run_cli
from run_files import two_object_run

CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """The command line in this process (``print`` loads no model: no tiny models are needed)."""
    return partial(run_cli, capsys)


def _holed_sphere(path: Path) -> Path:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    kept = sphere.faces[np.linalg.norm(sphere.triangles_center - [0.3, 0.3, 0.9], axis=1) > 0.35]
    trimesh.Trimesh(sphere.vertices, kept).export(path)
    return path


def _slicer_read(path: Path) -> dict[str, tuple[float, np.ndarray]]:
    """The 3MF as a slicer reads it, with the standard library (no lib3mf): each build item's object, its
    vertices moved by the item's transform, and the model's unit as a factor to millimetres."""
    with zipfile.ZipFile(path) as archive:
        model = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
    to_mm = {"millimeter": 1.0, "meter": 1000.0, "micron": 0.001, "centimeter": 10.0, "inch": 25.4}[
        model.get("unit", "millimeter")]
    meshes = {}
    for item in model.iter(CORE + "object"):
        points = [[float(v.get(axis)) for axis in "xyz"] for v in item.iter(CORE + "vertex")]
        meshes[item.get("id")] = (item.get("name"), np.array(points))
    placed = {}
    for build in model.iter(CORE + "item"):
        name, points = meshes[build.get("objectid")]
        m = [float(v) for v in build.get("transform", "1 0 0 0 1 0 0 0 1 0 0 0").split()]
        placed[name] = (to_mm, (points @ np.reshape(m[:9], (3, 3)) + m[9:]) * to_mm)
    return placed


def test_a_sphere_with_a_hole_prints_watertight_at_the_asked_height(tmp_path: Path, cli: RunCli) -> None:
    mesh = _holed_sphere(tmp_path / "ball.glb")
    out = cli("print", mesh, "--height-mm", "80", "--out", tmp_path / "runs")
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.split("print folder: ")[1].strip())
    record = json.loads((folder / "print.json").read_text(encoding="utf-8"))
    ball = record["objects"][0]
    assert ball["printed"] and ball["watertight"] and ball["repairs"] == ["closed 1 hole"]
    assert [check["file"] for check in ball["checks"]] == ["ball.stl", "plate.3mf"]
    assert all(check["passed"] and check["self_intersections"] == 0 for check in ball["checks"])
    unit, placed = _slicer_read(folder / "plate.3mf")["ball"]
    height = float(np.ptp(placed[:, 2]))
    assert unit == 1.0 and abs(height - 80.0) <= 0.1 and placed[:, 2].min() == pytest.approx(0.0, abs=1e-4)
    stl = trimesh.load(folder / "ball.stl")
    assert stl.is_watertight and stl.volume > 0 and abs(stl.extents[2] - 80.0) <= 0.1
    assert (mesh.parent / "ball.glb").read_bytes() == mesh.read_bytes()  # the artist's mesh untouched


def test_a_two_object_run_prints_as_one_plate_keeping_relative_sizes(tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path)
    before = {path.name: path.read_bytes() for path in run.iterdir()}
    out = cli("print", run, "--height-mm", "80", "--object", "house")
    assert out.returncode == 0, out.stdout + out.stderr
    placed = _slicer_read(run / "print" / "plate.3mf")
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    scale = {r["stem"]: r["placement"]["scale"] for r in manifest["records"]}
    house, chimney = (float(np.ptp(placed[name][1][:, 2])) for name in ("house", "chimney"))
    assert abs(house - 80.0) <= 0.1
    # Each loses the 1 mm flat base; above it they keep the sizes the layout gave them.
    expected = (80.0 + 1.0) * (1.19 * scale["chimney"]) / (1.08 * scale["house"]) - 1.0
    assert chimney == pytest.approx(expected, abs=0.1)
    low = {name: placed[name][1].min(axis=0) for name in placed}
    high = {name: placed[name][1].max(axis=0) for name in placed}
    assert low["house"][0] > 0 and low["house"][1] > 0  # on the bed, whose origin is its corner
    assert high["house"][0] < low["chimney"][0] or high["chimney"][0] < low["house"][0]  # side by side
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()} == \
        {name: data for name, data in before.items()}  # the run's own files untouched
    again = cli("print", run, "--height-mm", "40")
    assert again.returncode == 0
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("print")) == \
        ["print", Path(again.stdout.split("print folder: ")[1].strip()).name]  # a new folder, the first kept
    assert math.isclose(float(np.ptp(_slicer_read(run / "print" / "plate.3mf")["house"][1][:, 2])), house)


def test_a_hollow_print_has_its_wall_and_drain_holes(tmp_path: Path, cli: RunCli) -> None:
    cube = tmp_path / "cube.glb"
    trimesh.creation.box(extents=(1.0, 1.0, 1.0)).export(cube)
    out = cli("print", cube, "--height-mm", "30", "--base-mm", "0", "--hollow", "--wall-mm", "2", "--out",
              tmp_path / "runs")
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads((Path(out.stdout.split("print folder: ")[1].strip()) / "print.json").read_text())
    box = record["objects"][0]
    assert box["hollow"]["hollow"] and box["hollow"]["drained"] and len(box["hollow"]["holes"]) == 2
    assert box["thinnest_wall_mm"] >= 1.95
    holes = 2 * math.pi * 1.5 ** 2 * 2.0
    # The hollow's twelve inner edges are cut by one grid cell (0.8 mm) of marching cubes: about 1 % more wall.
    assert box["volume_mm3"] == pytest.approx(30 ** 3 - 26 ** 3 - holes, rel=0.015)


@pytest.mark.parametrize(("arguments", "sentence"), [
    (["--height-mm", "0"], "--height-mm 0 is out of range: the printed height must be from 1 to 1000 mm"),
    (["--height-mm", "-5"], "--height-mm -5 is out of range"),
    (["--height-mm", "1000000"], "--height-mm 1000000 is out of range"),  # a kilometre
    (["--height-mm", "20", "--hollow", "--wall-mm", "12"], "a 12 mm wall is thicker than half the 20 mm object"),
])
def test_a_bad_size_is_one_sentence_and_nothing_is_written(tmp_path: Path, cli: RunCli, arguments: list[str],
                                                           sentence: str) -> None:
    mesh = _holed_sphere(tmp_path / "ball.glb")
    out = cli("print", mesh, *arguments, "--out", tmp_path / "runs")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"error: {sentence}" or sentence in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_bad_meshes_are_one_sentence_each(tmp_path: Path, cli: RunCli) -> None:
    sheet = tmp_path / "sign.obj"
    sheet.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3\nf 1 3 4\n")
    empty = tmp_path / "empty.obj"
    empty.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    huge = tmp_path / "huge.ply"
    huge.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                     b"property float z\nelement face 5000000\nproperty list uchar int vertex_indices\nend_header\n")
    said = {}
    for mesh in (sheet, empty, huge):
        out = cli("print", mesh, "--height-mm", "50", "--out", tmp_path / "runs")
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        said[mesh.stem] = out.stderr.strip()
    assert said["sign"].startswith("error: sign is an open sheet with no inside: it encloses no volume to print")
    assert said["empty"].startswith("error: ") and "no faces" in said["empty"]
    assert said["huge"].startswith("error: huge.ply has 5,000,000 triangles; a print takes at most 2,000,000")
    assert not (tmp_path / "runs").exists()  # nothing was made for any of them


def test_a_mesh_path_out_of_the_run_is_one_sentence_and_the_rest_is_printed(tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path, chimney_mesh="../../outside.glb")
    trimesh.creation.box(extents=(1.0, 1.0, 1.0)).export(tmp_path / "outside.glb")
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 3 and "Traceback" not in out.stderr
    assert ("chimney: its mesh path '../../outside.glb' leads out of the run folder, so it is not read"
            in out.stdout.splitlines())
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    assert [(item["name"], item["printed"]) for item in record["objects"]] == [("house", True), ("chimney", False)]
    assert set(_slicer_read(run / "print" / "plate.3mf")) == {"house"}


def test_an_object_too_thin_for_the_wall_is_printed_solid_with_a_sentence(tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path)
    out = cli("print", run, "--only", "chimney", "--height-mm", "20", "--hollow", "--wall-mm", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    said = [line for line in out.stdout.splitlines() if line.startswith("chimney is ")]
    assert len(said) == 1 and said[0].endswith("too thin for a 3 mm wall on each side: it is printed solid")
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    assert [item["name"] for item in record["objects"]] == ["chimney"] and not record["objects"][0]["hollow"]["hollow"]


def test_a_painted_object_keeps_its_colour_in_the_3mf(tmp_path: Path, cli: RunCli) -> None:
    from PIL import Image

    box = trimesh.creation.box(extents=(1.0, 2.0, 1.0))
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.new("RGB", (4, 4), (200, 30, 40)),
                                                   baseColorFactor=[255, 255, 255, 255])
    box.visual = trimesh.visual.TextureVisuals(uv=np.full((len(box.vertices), 2), 0.5), material=material)
    box.export(tmp_path / "red.glb")
    out = cli("print", tmp_path / "red.glb", "--height-mm", "25", "--out", tmp_path / "runs")
    assert out.returncode == 0, out.stdout + out.stderr
    folder = Path(out.stdout.split("print folder: ")[1].strip())
    with zipfile.ZipFile(folder / "plate.3mf") as archive:
        model = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
    bases = [base.get("displaycolor") for base in model.iter(CORE + "base")]
    painted = next(model.iter(CORE + "object"))
    assert bases == ["#C81E28FF"] and painted.get("pindex") == "0" and painted.get("name") == "red"


def test_a_3mf_library_that_cannot_load_is_one_sentence_and_nothing_is_written(
        tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    import lib3mf

    def broken() -> None:
        raise OSError("liblib3mf.so: cannot open shared object file")

    monkeypatch.setattr(lib3mf, "get_wrapper", broken)
    mesh = _holed_sphere(tmp_path / "ball.glb")
    out = cli("print", mesh, "--height-mm", "80", "--out", tmp_path / "runs")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: printing needs lib3mf (the 3MF library), which cannot be loaded")
    assert not (tmp_path / "runs").exists()


def test_a_3mf_the_library_refuses_to_write_is_one_sentence_and_leaves_no_folder(
        tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    import lib3mf

    from img23d_backend.printing import plate_files

    def refused(*_: object) -> None:
        raise lib3mf.ELib3MFException(2, "an invalid parameter was passed")

    monkeypatch.setattr(plate_files, "write_3mf", refused)
    run = two_object_run(tmp_path)
    out = cli("print", run, "--height-mm", "80")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "lib3mf could not write plate.3mf: Lib3MFException 2: an invalid parameter was passed" in out.stderr
    assert not list(run.glob("print*"))  # the empty print folder was taken away again


def test_a_private_runs_print_is_private_too(tmp_path: Path, cli: RunCli) -> None:
    run = two_object_run(tmp_path)
    run.chmod(0o700)
    out = cli("print", run, "--height-mm", "50", "--only", "house")
    assert out.returncode == 0, out.stdout + out.stderr
    modes = {path.name: path.stat().st_mode & 0o777 for path in [run / "print", *(run / "print").iterdir()]}
    assert modes["print"] == 0o700 and all(mode & 0o077 == 0 for mode in modes.values()), modes


def _prusa_slicer_sizes(path: Path) -> list[list[float]]:
    """PrusaSlicer's ``--info``: each object's size (x, y, z in mm) as its own 3MF reader reads it; no display
    is needed. Its sections start "[plate.3mf]" (not its "[time] [thread]" log lines)."""
    done = subprocess.run(["prusa-slicer", "--info", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    sizes: list[list[float]] = []
    for line in done.stdout.splitlines():
        if re.fullmatch(r"\[[^\[\]]+\]", line.strip()):
            sizes.append([])
        elif re.match(r"size_[xyz] = ", line):
            sizes[-1].append(float(line.split("=")[1]))
    return sizes


@pytest.mark.skipif(shutil.which("prusa-slicer") is None,
                    reason="PrusaSlicer is not installed here (apt-get install -y --no-install-recommends "
                           "prusa-slicer: about 100 MB of GUI libraries, too much for every CI run, so "
                           "scripts/test.sh does not install it)")
def test_prusa_slicer_reads_the_plate_at_the_asked_height(tmp_path: Path, cli: RunCli) -> None:
    """A real slicer, not only lib3mf and our own XML reading, opens the plate in millimetres: the house 80 mm
    tall within 0.1 mm and the chimney at the size print.json gives it. Skipped where PrusaSlicer is absent
    (bench/slicer_read.py measures more: names, hollow prints, the STL, slicing to G-code)."""
    run = two_object_run(tmp_path)
    assert cli("print", run, "--height-mm", "80", "--object", "house").returncode == 0
    record = json.loads((run / "print" / "print.json").read_text(encoding="utf-8"))
    sizes = _prusa_slicer_sizes(run / "print" / "plate.3mf")
    assert len(sizes) == 2   # one object each, in the 3MF's order
    assert abs(sizes[0][2] - 80.0) <= 0.1
    for item, size in zip(record["objects"], sizes):
        assert size == pytest.approx(item["size_mm"], abs=0.1), item["name"]
