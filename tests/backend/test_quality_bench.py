"""bench/quality.py on meshes with known answers: a mesh against itself (CD 0, F 1, PSNR inf, SSIM 1),
a sheet moved along its normal (CD = the move before alignment, ~0 after), a decimation (small CD,
F 1), a turned copy (ICP takes the turn away), a texture changed (the pictures see it, the geometry
does not); and what it cannot measure (a mesh unreadable, empty, flat, NaN or far; a bad argument)
said in one sentence, the other rows kept."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from testdata import REPO

sys.path.insert(0, str(REPO / "bench"))

import quality  # noqa: E402  (bench/quality.py)

MOVE = 0.1  # the sheet's move along its normal, in the reference's [-1, 1] frame (its side spans 2)


def _sheet(offset: float = 0.0) -> trimesh.Trimesh:
    """A 2 x 2 square in glTF's XY plane (facing the front camera), as a 10 x 10 grid."""
    steps = np.linspace(-1, 1, 11)
    x, y = np.meshgrid(steps, steps)
    vertices = np.column_stack([x.ravel(), y.ravel(), np.full(x.size, offset)])
    index = np.arange(121).reshape(11, 11)
    a, b, c, d = index[:-1, :-1].ravel(), index[:-1, 1:].ravel(), index[1:, 1:].ravel(), index[1:, :-1].ravel()
    return trimesh.Trimesh(vertices, np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])]),
                           process=False)


def _decimated(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    import fast_simplification

    vertices, faces = fast_simplification.simplify(mesh.vertices.astype(np.float32), mesh.faces, target_reduction=0.75)
    return trimesh.Trimesh(vertices, faces, process=False)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The harness run as a user runs it, on three references and what stands in for their objects."""
    root = tmp_path_factory.mktemp("quality")
    references, generated = root / "references", root / "generated"
    references.mkdir()
    (generated / "ball" / "20261126T000000-ball").mkdir(parents=True)
    ball = trimesh.creation.icosphere(subdivisions=4)
    for name, reference, made in (("same", trimesh.creation.icosphere(subdivisions=3), None),
                                  ("sheet", _sheet(), _sheet(MOVE)), ("ball", ball, _decimated(ball))):
        reference.export(str(references / f"{name}.glb"))
        Image.new("RGB", (8, 8)).save(references / f"{name}.png")
        target = generated / f"{name}.glb" if name != "ball" else generated / "ball" / "20261126T000000-ball" / "ball.glb"
        (made or reference).export(str(target))
    out = root / "quality.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "quality.py"), str(references), str(generated),
                           "--out", str(out), "--size", "96", "--azimuths", "1", "--samples", "4000"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "LPIPS" in proc.stdout  # used, or said to be left out and why
    return {row["name"]: row for row in json.loads(out.read_text())["rows"]}


def test_a_mesh_against_itself_is_perfect(measured: dict[str, dict]) -> None:
    row = measured["same"]
    # 0 up to float32 (a GLB's) and the distance grid's rare near miss, far below its 0.01 bound
    assert row["chamfer"] == pytest.approx(0, abs=1e-4) and row["chamfer_unaligned"] == pytest.approx(0, abs=1e-4)
    assert row["f_score"] == 1 and row["psnr"] == "inf" and row["ssim"] == pytest.approx(1)
    assert row["views"] == 3  # one azimuth at each of the three elevations


def test_a_moved_copy_measures_its_move_before_alignment_and_nothing_after(measured: dict[str, dict]) -> None:
    row = measured["sheet"]
    assert row["chamfer_unaligned"] == pytest.approx(MOVE, rel=1e-3)  # every point is MOVE from the other sheet
    assert row["f_score_unaligned"] == 1  # MOVE is within the 0.2 threshold
    assert row["chamfer"] == pytest.approx(0, abs=1e-4) and row["f_score"] == 1


def test_a_decimation_is_close(measured: dict[str, dict]) -> None:
    row = measured["ball"]
    assert row["generated"].endswith("ball.glb")  # found in its run folder
    assert 0 < row["chamfer"] < 0.01 and row["f_score"] == 1
    assert 25 < row["psnr"] < math.inf and 0.9 < row["ssim"] < 1


def test_a_far_move_fails_the_f_score_threshold() -> None:
    reference, moved = _sheet(), _sheet(0.3)
    result = quality.geometry((reference.vertices, reference.faces), (moved.vertices, moved.faces), samples=2000)
    assert result.chamfer == pytest.approx(0.3, rel=1e-3) and result.f_score == 0


def test_icp_takes_a_small_turn_away(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(2.0, 1.0, 0.5)).subdivide().subdivide()
    turned = box.copy()
    turned.apply_transform(trimesh.transformations.rotation_matrix(math.radians(8), [0, 1, 0]))
    box.export(str(tmp_path / "box.glb"))
    turned.export(str(tmp_path / "turned.glb"))
    settings = quality.Settings(samples=3000, size=64, azimuths=2, elevations=(0.0,))
    plain = quality.compare("box", tmp_path / "box.glb", tmp_path / "turned.glb", settings)
    fitted = quality.compare("box", tmp_path / "box.glb", tmp_path / "turned.glb",
                             quality.Settings(**{**settings.__dict__, "icp": True}))
    assert fitted.chamfer < 0.005 < plain.chamfer


def test_the_pictures_see_a_texture_the_geometry_cannot(tmp_path: Path) -> None:
    sheet = _sheet()
    uv = sheet.vertices[:, :2] * 0.5 + 0.5
    for name, colours in (("left-red", [(255, 0, 0), (0, 0, 255)]), ("left-blue", [(0, 0, 255), (255, 0, 0)])):
        pixels = np.zeros((8, 8, 3), np.uint8)
        pixels[:, :4], pixels[:, 4:] = colours
        material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(pixels))
        textured = trimesh.Trimesh(sheet.vertices, sheet.faces, process=False,
                                   visual=trimesh.visual.TextureVisuals(uv=uv, material=material))
        textured.export(str(tmp_path / f"{name}.glb"))
    settings = quality.Settings(samples=2000, size=64, azimuths=1, elevations=(0.0,))
    same = quality.compare("s", tmp_path / "left-red.glb", tmp_path / "left-red.glb", settings)
    swapped = quality.compare("s", tmp_path / "left-red.glb", tmp_path / "left-blue.glb", settings)
    assert same.psnr == math.inf and swapped.chamfer == pytest.approx(0, abs=1e-4)
    assert swapped.psnr < 10 and swapped.ssim < 0.8  # a third of each picture changed from red to blue


def test_generate_is_run_as_a_user_runs_it(tmp_path: Path) -> None:
    command = quality.generate_command(tmp_path / "cup.png", tmp_path / "out" / "cup", "--models tiny --splats")
    assert command[1:] == ["-m", "img23d_backend", "generate", str(tmp_path / "cup.png"), "--out",
                           str(tmp_path / "out" / "cup"), "--models", "tiny", "--splats"]


# -- bad meshes and bad arguments (issue 66): one sentence each, the other rows kept ---------------

def _nan_obj(path: Path) -> Path:
    """An icosphere as OBJ text, its first corner NaN (trimesh writes no NaN into a GLB)."""
    ball = trimesh.creation.icosphere(subdivisions=1)
    lines = [f"v {x} {y} {z}" for x, y, z in ball.vertices] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in ball.faces]
    lines[0] = "v nan 0 0"
    path.write_text("\n".join(lines) + "\n")
    return path


def _bad_meshes(root: Path) -> tuple[Path, Path]:
    """Two good pairs between five the harness cannot fully measure, each generated mesh beside its
    reference (a NaN one is a reference: the OBJ it takes)."""
    references, generated = root / "references", root / "generated"
    references.mkdir()
    generated.mkdir()
    ball = trimesh.creation.icosphere(subdivisions=2)
    made = {"a-good": ball, "empty": trimesh.PointCloud(ball.vertices),
            "flat": trimesh.Trimesh(ball.vertices * 0, ball.faces, process=False),
            "far": trimesh.Trimesh(ball.vertices * 1e4, ball.faces, process=False), "nan": ball, "z-good": ball}
    for name, mesh in made.items():
        if name != "nan":
            ball.export(str(references / f"{name}.glb"))
        mesh.export(str(generated / f"{name}.glb"), file_type="glb")
    _nan_obj(references / "nan.obj")
    (generated / "garbled.glb").write_bytes(b"glTF and then nothing a reader wants")
    ball.export(str(references / "garbled.glb"))
    return references, generated


def test_each_bad_mesh_is_one_sentence_and_a_row_and_the_rest_are_measured(tmp_path: Path) -> None:
    references, generated = _bad_meshes(tmp_path)
    out = tmp_path / "quality.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "quality.py"), str(references), str(generated),
                           "--out", str(out), "--size", "32", "--azimuths", "1", "--samples", "500",
                           "--elevations", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    said = dict(line.split(": ", 1) for line in proc.stderr.strip().splitlines())
    assert said["empty"] == "the generated mesh empty.glb holds no triangles to measure"
    assert said["flat"] == "the generated mesh flat.glb has no surface: every face has zero area"
    assert said["garbled"].startswith("the generated mesh garbled.glb cannot be read (")
    assert said["far"].startswith("the generated mesh far.glb reaches 1e+04 from the reference's centre")
    table = json.loads(out.read_text())
    rows = {row["name"]: row for row in table["rows"]}
    assert rows["a-good"]["chamfer"] == pytest.approx(0, abs=1e-4) and rows["z-good"]["f_score"] == 1
    assert rows["a-good"]["problem"] is None and rows["z-good"]["problem"] is None
    for name in ("empty", "flat", "garbled"):
        assert rows[name]["problem"] == said[name] and rows[name]["chamfer"] is None
    assert rows["far"]["chamfer_unaligned"] is None and rows["far"]["chamfer"] == pytest.approx(0, abs=1e-4)
    assert said["nan"] == "the reference mesh nan.obj has 1 corner(s) that are not numbers (NaN or infinite)"
    assert [line.split(":")[0] for line in table["failed"]] == ["empty", "far", "flat", "garbled", "nan"]


@pytest.mark.parametrize("arguments, said", [
    (["--samples", "0"], "argument --samples: 0 must be at least 1"),
    (["--samples", "many"], "argument --samples: 'many' is not a whole number"),
    (["--threshold", "nan"], "argument --threshold: nan must be a positive number"),
    (["--elevations", "30,up"], "argument --elevations: '30,up' is not a comma-separated list of degrees"),
    (["--elevations", "120"], "argument --elevations: 120: each elevation must be within -90..90 degrees"),
    (["--size", "3"], "argument --size: 3 pixels is outside 16..4096"),
    (["--azimuths", "-2"], "argument --azimuths: -2 must be at least 1"),
])
def test_a_bad_argument_is_argparse_s_one_sentence(tmp_path: Path, arguments: list[str], said: str,
                                                    capsys: pytest.CaptureFixture) -> None:
    trimesh.creation.box().export(str(tmp_path / "box.glb"))
    with pytest.raises(SystemExit) as stopped:
        quality.main([str(tmp_path), str(tmp_path), *arguments])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(f"error: {said}")


def test_missing_folders_are_argparse_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for argv, said in (([str(tmp_path / "none"), str(tmp_path)], f"{tmp_path / 'none'} is not a folder"),
                       ([str(tmp_path), str(tmp_path / "none")], f"{tmp_path / 'none'} is not a folder"),
                       ([str(tmp_path), str(tmp_path)], "no reference meshes")):
        with pytest.raises(SystemExit) as stopped:
            quality.main(argv)
        assert stopped.value.code == 2 and said in capsys.readouterr().err
