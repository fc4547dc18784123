"""``rig`` given hostile and broken files (issue 73, item 5): every input bounded before the work, every
failure one sentence and a run folder that says ``failed`` (never ``running``), no byte read from outside
an accessor's buffer view or outside the source's folder, outputs no more readable than their sources, and
Ctrl-C or SIGTERM a cancellation with the run closed. Small synthetic files: a box, a 2-joint skin."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from ctrl_c import killed_if_left, rest_of_stderr, wait_for_line
from img23d_protocol import ErrorCode, JobResult, ProtocolError, RigBone, RigJobResult, RigRequest

from img23d_backend.jobs import Job
from img23d_backend.session import Models, Session
from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.rigging.gltf_joints import read_skeleton
from img23d_backend.rigging.skeleton import BadSkeleton

FLOAT, UINT32, ARRAY, ELEMENTS = 5126, 5125, 34962, 34963
# A post 0.1 x 1 x 0.1 (glTF's frame, Y up): 8 corners, 12 triangles; thin, so its voxels are few.
BOX = np.array([[x, y, z] for x in (0, 0.1) for y in (0, 1) for z in (0, 0.1)], np.float32)
BOX_TRIANGLES = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                          [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], np.uint32)


def _document(positions: np.ndarray = BOX, triangles: np.ndarray = BOX_TRIANGLES, count: int | None = None,
              uri: str | None = None) -> tuple[dict, bytes]:
    """A glTF document of one mesh node and its binary buffer (positions, then indices)."""
    points, corners = positions.astype("<f4").tobytes(), triangles.astype("<u4").tobytes()
    document = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "box"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "accessors": [{"bufferView": 0, "componentType": FLOAT, "count": len(positions) if count is None else count,
                       "type": "VEC3", "min": [0, 0, 0], "max": [0.1, 1, 0.1]},
                      {"bufferView": 1, "componentType": UINT32, "count": triangles.size, "type": "SCALAR"}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(points), "target": ARRAY},
                        {"buffer": 0, "byteOffset": len(points), "byteLength": len(corners), "target": ELEMENTS}],
        "buffers": [{"byteLength": len(points) + len(corners), **({"uri": uri} if uri is not None else {})}],
    }
    return document, points + corners


def _glb(path: Path, document: dict, binary: bytes) -> Path:
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 28 + len(text) + len(binary))
                     + struct.pack("<II", len(text), 0x4E4F534A) + text
                     + struct.pack("<II", len(binary), 0x004E4942) + binary)
    return path


def _gltf(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


# One bone up the post's middle (img23d's frame, Z up: y is glTF's -z): no skeleton to find.
ONE_BONE = [RigBone(name="root", head=(0.05, -0.05, 0.1), tail=(0.05, -0.05, 0.9), parent=-1)]


_SESSION: list[Session] = []


def run_rig(request: RigRequest, runs: Path) -> RigJobResult:
    """``request`` as the rig command runs it: through a session (one for the module: a geometric rig loads no
    model, so the session builds none), its run folder under ``runs``."""
    if not _SESSION:
        _SESSION.append(Session(runs, Models(models="tiny", device="cpu"), tiny_set=False))
    result: JobResult = _SESSION[0].engine.run(request, Job(id="rig", emit=lambda message: None, runs_dir=runs))
    assert isinstance(result, RigJobResult)
    return result


def _rig(mesh: Path, runs: Path) -> Path:
    """A rig of the box with ``ONE_BONE`` that must finish; its run folder."""
    result = run_rig(RigRequest(mesh=str(mesh), name=mesh.stem, weights="geometric", skeleton=ONE_BONE), runs)
    return Path(result.run_dir)


def _refused(mesh: Path, runs: Path, skeleton: Path | None = None) -> str:
    """A rig that must be refused in one sentence, its run folder saying ``failed``; the sentence."""
    with pytest.raises(ProtocolError) as caught:
        run_rig(RigRequest(mesh=str(mesh), name=mesh.stem, weights="geometric", skeleton_file=str(skeleton or "")),
                runs)
    message = caught.value.message
    assert caught.value.code is ErrorCode.BAD_REQUEST, message
    assert "\n" not in message and "Error" not in message and "struct" not in message, message
    [run] = [folder for folder in runs.iterdir() if folder.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and not (run / ".img23d-reserve").exists(), manifest["status"]
    assert not list(run.glob("*_rigged.glb"))
    return message


@contextmanager
def _within(seconds: int) -> Iterator[None]:
    """Fail, instead of hanging, a block that takes longer than ``seconds`` (a Python loop that never ends)."""
    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- memory safety: nothing is read from outside an accessor's buffer view ----------------------------------

@pytest.mark.parametrize("past", [50, 10_000_000], ids=["50 vertices past", "ten million past"])
def test_an_accessor_counting_past_its_buffer_is_refused(tmp_path: Path, past: int) -> None:
    # 50 past once read 600 bytes of the process's memory as vertices and rigged them; far past, a crash.
    document, binary = _document(count=len(BOX) + past)
    message = _refused(_glb(tmp_path / "box.glb", document, binary), tmp_path / "runs")
    assert "past" in message and "accessor 0" in message


def test_triangles_naming_vertices_the_mesh_lacks_are_refused(tmp_path: Path) -> None:
    bad = BOX_TRIANGLES.copy()
    bad[3, 1] = 4_000_000
    message = _refused(_glb(tmp_path / "box.glb", *_document(triangles=bad)), tmp_path / "runs")
    assert "vertices it does not have" in message


# --- confidentiality: URIs resolve in the source's folder only; outputs as private as their sources ---------

@pytest.mark.parametrize("where", ["absolute", "up"])
def test_a_buffer_naming_a_file_outside_the_source_folder_is_refused(tmp_path: Path, where: str) -> None:
    document, binary = _document()
    secret = tmp_path / "id_rsa"
    secret.write_bytes(binary)   # a private file that would read as the box itself
    secret.chmod(0o600)
    (tmp_path / "art").mkdir()
    document["buffers"][0]["uri"] = str(secret) if where == "absolute" else "../id_rsa"
    message = _refused(_gltf(tmp_path / "art" / "box.gltf", document), tmp_path / "runs")
    assert "buffer 0" in message and ("not a file beside" in message or "outside" in message)


def test_a_gltf_separate_export_is_rigged_with_its_bin_and_texture_and_stays_private(tmp_path: Path) -> None:
    # As Blender writes "glTF Separate": the .gltf, its .bin and its texture beside it; only the .gltf was
    # copied into the run, so the rig ended in a traceback. The source is its owner's alone (600).
    document, binary = _document(uri="box.bin")
    (tmp_path / "box.bin").write_bytes(binary)
    from PIL import Image
    Image.new("RGB", (4, 4), (200, 90, 40)).save(tmp_path / "skin.png")
    document.update(images=[{"uri": "skin.png"}], textures=[{"source": 0}],
                    materials=[{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}])
    document["meshes"][0]["primitives"][0]["material"] = 0
    source = _gltf(tmp_path / "box.gltf", document)
    for path in (source, tmp_path / "box.bin", tmp_path / "skin.png"):
        path.chmod(0o600)
    run = _rig(source, tmp_path / "runs")
    rigged = gltf_scene.load(run / "box_rigged.glb")
    assert np.allclose(gltf_scene.accessor(rigged, 0), BOX) and rigged.images[0].bufferView is not None
    for output in ("box_rigged.glb", "box_weights.npz"):
        assert (run / output).stat().st_mode & 0o077 == 0, oct((run / output).stat().st_mode)


def test_a_data_uri_buffer_is_read(tmp_path: Path) -> None:
    document, binary = _document()
    document["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(binary).decode()
    run = _rig(_gltf(tmp_path / "box.gltf", document), tmp_path / "runs")
    assert np.allclose(gltf_scene.accessor(gltf_scene.load(run / "box_rigged.glb"), 0), BOX)


# --- bounds before the work: faces, joints, the node graph, the binding's samples ---------------------------

def test_ten_million_faces_are_refused_from_the_files_counts(tmp_path: Path) -> None:
    # The indices hold no bytes (an accessor without a buffer view reads as zeros): what the file says is
    # refused before anything is decoded (a real 10M-face GLB once took 9 GB in 35 s).
    document, binary = _document()
    document["accessors"][1] = {"componentType": UINT32, "count": 30_000_000, "type": "SCALAR"}
    message = _refused(_glb(tmp_path / "box.glb", document, binary), tmp_path / "runs")
    assert "10,000,000 triangles" in message and "5,000,000" in message


def test_a_soup_of_large_triangles_is_refused_with_the_estimate(tmp_path: Path) -> None:
    # Triangles about half as long as the mesh: the binding would sample thousands of points on each; these
    # 20,000 (a 720 KB file) once passed 9 GB in 106 s, and are refused before any is sampled, the estimate said.
    rng = np.random.default_rng(7)
    soup = rng.random((60_000, 3)).astype(np.float32)
    document, binary = _document(soup, np.arange(60_000, dtype=np.uint32).reshape(-1, 3))
    message = _refused(_glb(tmp_path / "soup.glb", document, binary), tmp_path / "runs")
    assert "would sample" in message and "GB" in message and "20,000,000" in message


def test_the_sample_estimate_counts_what_the_binding_samples() -> None:
    from img23d_backend.rigging.limits import surface_samples
    from img23d_backend.rigging.voxels import pitch_for, surface_points

    rng = np.random.default_rng(3)
    positions = rng.random((60, 3))
    triangles = np.arange(60).reshape(-1, 3)
    assert surface_samples(positions, triangles) == len(surface_points(positions, triangles, pitch_for(positions) / 2))


def _skin_file(path: Path, joints: int, cycle: bool = False) -> Path:
    """A skeleton file: a chain of ``joints`` joint nodes, 1 cm apart up the post; with ``cycle``, two
    non-joint nodes above them that are each other's parent (300 bytes once kept the reader walking forever)."""
    nodes = [{"name": f"j{n}", "translation": [0.05, 0.01 if n else 0.1, -0.05],
              **({"children": [n + 1]} if n + 1 < joints else {})} for n in range(joints)]
    if cycle:
        nodes += [{"name": "a", "children": [joints + 1, 0]}, {"name": "b", "children": [joints]}]
    document = {"asset": {"version": "2.0"}, "nodes": nodes, "skins": [{"joints": list(range(joints))}]}
    if not cycle:
        document.update(scene=0, scenes=[{"nodes": [0]}])
    return _gltf(path, document)


def test_a_parent_cycle_among_non_joint_nodes_is_refused_at_once(tmp_path: Path) -> None:
    with _within(20), pytest.raises(BadSkeleton, match="cycle"):
        read_skeleton(_skin_file(tmp_path / "cycle.gltf", 2, cycle=True))


def test_a_node_tree_deeper_than_the_bound_is_refused(tmp_path: Path) -> None:
    with _within(20), pytest.raises(BadSkeleton, match="deep"):
        read_skeleton(_skin_file(tmp_path / "deep.gltf", 600))


def test_a_skeleton_of_more_joints_than_the_bound_is_refused(tmp_path: Path) -> None:
    # A 2,000-joint skeleton still ran after 300 s; a flat one (every joint a root) is no deeper than one.
    nodes = [{"name": f"j{n}", "translation": [0.05, 0.1 + n * 0.0004, -0.05]} for n in range(2_000)]
    skeleton = _gltf(tmp_path / "many.gltf", {"asset": {"version": "2.0"}, "nodes": nodes,
                                               "skins": [{"joints": list(range(2_000))}]})
    with _within(60):
        message = _refused(_glb(tmp_path / "box.glb", *_document()), tmp_path / "runs", skeleton)
    assert "2,000 joints" in message and "1,000" in message


# --- tracebacks: NaN, inf, one point, malformed files: one sentence each, the run closed -------------------

@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["NaN", "inf"])
def test_positions_that_are_not_finite_are_refused(tmp_path: Path, value: float) -> None:
    points = BOX.copy()
    points[2, 1] = value
    message = _refused(_glb(tmp_path / "box.glb", *_document(points)), tmp_path / "runs")
    assert "not a finite number" in message and "one point" not in message


def test_a_mesh_on_one_point_is_refused_as_having_no_surface(tmp_path: Path) -> None:
    message = _refused(_glb(tmp_path / "box.glb", *_document(np.full_like(BOX, 0.5))), tmp_path / "runs")
    assert "no surface" in message


def _malformed(kind: str) -> tuple[dict, bytes]:
    document, binary = _document()
    if kind == "no componentType":
        del document["accessors"][0]["componentType"]
    elif kind == "unknown type":
        document["accessors"][0]["type"] = "VEC7"
    elif kind == "no such accessor":
        document["meshes"][0]["primitives"][0]["indices"] = 9
    elif kind == "no such mesh":
        document["nodes"][0]["mesh"] = 4
    elif kind == "no such child":
        document["nodes"][0]["children"] = [3]
    elif kind == "view past its buffer":
        document["bufferViews"][1]["byteLength"] = 4096
    elif kind == "short matrix":
        document["nodes"][0]["matrix"] = [1, 0, 0]
    return document, binary


@pytest.mark.parametrize("kind", ["no componentType", "unknown type", "no such accessor", "no such mesh",
                                  "no such child", "view past its buffer", "short matrix"])
def test_a_malformed_file_is_one_sentence(tmp_path: Path, kind: str) -> None:
    _refused(_glb(tmp_path / "box.glb", *_malformed(kind)), tmp_path / "runs")


@pytest.mark.parametrize("cut", [6, 17, 200], ids=["in the header", "in the JSON's header", "in the binary"])
def test_a_truncated_glb_is_one_sentence(tmp_path: Path, cut: int) -> None:
    whole = _glb(tmp_path / "whole.glb", *_document()).read_bytes()
    (tmp_path / "box.glb").write_bytes(whole[:cut] if cut < 100 else whole[:-cut % len(whole)])
    _refused(tmp_path / "box.glb", tmp_path / "runs")


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
    stale = RunFolder.create(tmp_path / "runs", "old-rig", Manifest(job_id="old", kind="rig", backend_version="test", pid=gone.pid))
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
