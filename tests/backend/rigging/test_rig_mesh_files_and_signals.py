"""``rig`` given other meshes and stopped (issue 73, item 5): an OBJ rigged with the material and texture beside
it, the add-on's mesh file checked as every job's mesh is and turned into the GLB's frame once, a shape whose own
skeleton would have hundreds of bones refused in one sentence, and Ctrl-C or SIGTERM a cancellation with the run
closed (runs a killed process left ``running`` closed at the start). Small synthetic files: a box, one bone
(``rig_box_inputs``). Hostile glTF files are ``test_rig_gltf_inputs``'s."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ctrl_c import killed_if_left, rest_of_stderr, wait_for_line
from img23d_protocol import RigRequest
from rig_box_inputs import BOX, BOX_TRIANGLES, ONE_BONE, _document, _glb, _refused, _rig, run_rig

from img23d_backend.gltf import scene as gltf_scene


# --- signals: Ctrl-C and SIGTERM cancel the rig, its run closed; earlier killed runs closed at the start ------

def _rig_process(tmp_path: Path, failpoint: str) -> subprocess.Popen:
    from testdata import SOURCE_PYTHONPATH

    mesh = _glb(tmp_path / "box.glb", *_document())
    env = {**os.environ, "IMG23D_FAILPOINTS": failpoint, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([SOURCE_PYTHONPATH, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "img23d_backend", "rig", str(mesh), "--weights", "geometric",
                             "--out", str(tmp_path / "runs"), "-v"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signum, failpoint, code", [
    (signal.SIGINT, "rig.bind:busy:3", 130),   # caught between the rig's steps: the token's way
    (signal.SIGTERM, "rig.bind:hang", 143),    # a step that never ends: the watcher closes it after its grace
], ids=["SIGINT between steps", "SIGTERM in a step that never ends"])
def test_a_signal_cancels_the_rig_and_closes_its_run(tmp_path: Path, signum: int, failpoint: str, code: int) -> None:
    with killed_if_left(_rig_process(tmp_path, failpoint)) as proc:
        wait_for_line(proc, "the binding samples", timeout=60)
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == code
    err = rest_of_stderr(proc)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    [run] = list((tmp_path / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "cancelled" and manifest["errors"][-1]["code"] == "cancelled", manifest
    assert not (run / ".img23d-reserve").exists() and not list(run.glob("*_rigged.glb"))


def test_the_rig_command_closes_runs_a_killed_process_left_running(tmp_path: Path, capsys) -> None:
    from img23d_backend.commands import cli
    from img23d_backend.runs.folders import Manifest, RunFolder

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=60)
    stale = RunFolder.create(tmp_path / "runs", "old-rig", Manifest(job_id="old", kind="rig", backend_version="test"))
    stale.manifest.pid = gone.pid  # as that process would have written it
    stale.save_manifest()
    assert (stale.root / ".img23d-reserve").exists()
    points = BOX.copy()
    points[0, 0] = np.nan
    assert cli.main(["rig", str(_glb(tmp_path / "box.glb", *_document(points))), "--weights", "geometric",
                     "--out", str(tmp_path / "runs")]) == 2
    assert "not a finite number" in capsys.readouterr().err
    manifest = json.loads((stale.root / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and not (stale.root / ".img23d-reserve").exists()


def test_an_obj_is_rigged_with_the_material_and_texture_beside_it(tmp_path: Path) -> None:
    # Only the OBJ was copied into the run, so its .mtl and texture, beside the source, were lost.
    from PIL import Image

    Image.new("RGB", (4, 4), (200, 90, 40)).save(tmp_path / "skin.png")
    (tmp_path / "post.mtl").write_text("newmtl skin\nKd 1 1 1\nmap_Kd skin.png\n")
    lines = ["mtllib post.mtl", "usemtl skin", *(f"v {x} {y} {z}" for x, y, z in BOX),
             *(f"vt {x * 10} {y}" for x, y, _ in BOX), *(f"f {a + 1}/{a + 1} {b + 1}/{b + 1} {c + 1}/{c + 1}"
                                                        for a, b, c in BOX_TRIANGLES)]
    (tmp_path / "post.obj").write_text("\n".join(lines) + "\n")
    run = _rig(tmp_path / "post.obj", tmp_path / "runs")
    rigged = gltf_scene.load(run / "post_rigged.glb")
    view = rigged.bufferViews[rigged.images[0].bufferView]
    data = rigged.binary_blob()[view.byteOffset:view.byteOffset + view.byteLength]
    with Image.open(io.BytesIO(data)) as texture:
        assert texture.convert("RGB").getpixel((1, 1)) == (200, 90, 40)


def test_a_shape_whose_own_skeleton_has_hundreds_of_bones_is_refused_in_one_sentence(tmp_path: Path) -> None:
    """A soup of large random triangles gave 514 bones from its shape and bound them for 103 s: no figure has
    that many (``limits.MAX_SHAPE_BONES``)."""
    from img23d_backend.rigging.limits import MAX_SHAPE_BONES, check_shape_bones
    from img23d_backend.rigging.skeleton import BadSkeleton

    check_shape_bones(MAX_SHAPE_BONES)
    with pytest.raises(BadSkeleton, match="skeleton of 514 bones.*--skeleton"):
        check_shape_bones(514)


# --- the add-on's mesh file: read and checked as every job reads it, turned once ----------------------------

def _mesh_file(path: Path, positions: np.ndarray, triangles: np.ndarray, loops: np.ndarray | None = None) -> Path:
    from img23d_protocol import MeshFile, write_mesh_file

    loops = np.arange(triangles.size).reshape(-1, 3) if loops is None else loops
    write_mesh_file(path, MeshFile(positions=positions.astype(np.float32), triangles=triangles.astype(np.int32),
                                   triangle_loops=loops.astype(np.int64)))
    return path


# The box in img23d's frame (Z up): glTF's (x, y, z) is Blender's (x, -z, y).
BOX_Z_UP = np.stack([BOX[:, 0], -BOX[:, 2], BOX[:, 1]], axis=1)


@pytest.mark.parametrize("defect, words", [
    ("a vertex it lacks", "a triangle of box.npz refers to a vertex that does not exist"),   # was glTF's "mesh 0"
    ("a loop far past its corners", "loop 1000000000000"),   # was rigged as if nothing were wrong
])
def test_the_addons_mesh_file_is_checked_as_every_jobs_mesh_is(tmp_path: Path, defect: str, words: str) -> None:
    """Re-texture's, Retopo's and the parts jobs' reading and checks (``readers.artist_mesh``), each defect one
    sentence naming the file: the rig read the file's arrays itself and checked them its own way."""
    triangles, loops = BOX_TRIANGLES.astype(np.int64), np.arange(BOX_TRIANGLES.size).reshape(-1, 3)
    if defect == "a vertex it lacks":
        triangles = triangles.copy()
        triangles[3, 2] = 40
    else:
        loops = loops.copy()
        loops[3, 2] = 10**12
    message = _refused(_mesh_file(tmp_path / "box.npz", BOX_Z_UP, triangles, loops), tmp_path / "runs")
    assert words in message, message


def test_the_addons_mesh_file_is_turned_into_the_glbs_frame_once_and_never_back(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The mesh file is in img23d's frame already: its rig turns its vertices once, into the GLB (once each way
    was the point of gltf.frame; it was turned into glTF's frame for trimesh and back three lines later)."""
    from img23d_backend.gltf import frame

    turned: list[tuple[str, int]] = []

    def counting(turn):   # every module's name for the turn, whichever imported it
        return lambda points: (turned.append((turn.__name__, len(points))), turn(points))[1]

    turns = (frame.to_gltf, frame.from_gltf)
    for module in [m for name, m in sys.modules.items() if name.startswith("img23d_backend")]:
        for turn in turns:
            if getattr(module, turn.__name__, None) is turn:
                monkeypatch.setattr(module, turn.__name__, counting(turn))
    result = run_rig(RigRequest(mesh=str(_mesh_file(tmp_path / "box.npz", BOX_Z_UP, BOX_TRIANGLES)),
                                weights="geometric", skeleton=ONE_BONE), tmp_path / "runs")
    assert [turn for turn in turned if turn[1] == len(BOX)] == [("to_gltf", len(BOX))], turned
    rigged = gltf_scene.load(Path(result.run_dir) / result.rigged)
    assert np.array_equal(gltf_scene.accessor(rigged, 0), BOX)   # glTF's frame, the file's own 32-bit values
