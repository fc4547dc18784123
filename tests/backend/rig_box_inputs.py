"""The small synthetic files the rig's input tests give it, and the rig run on them: a post (a thin box) as a
glTF document, written as a GLB or a text glTF; one bone up its middle; the rig run as the command runs it,
through one session; and a refusal checked as one sentence with its run folder closed ``failed``. Shared by
``test_rig_gltf_inputs`` and ``test_rig_mesh_files_and_signals``."""

from __future__ import annotations

import json
import signal
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from img23d_protocol import ErrorCode, JobResult, ProtocolError, RigBone, RigJobResult, RigRequest

from img23d_backend.jobs import Job
from img23d_backend.session import Models, Session

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
    """``request`` as the rig command runs it: through a session (one for the process, whichever module rigs first: a
    geometric rig loads no model, so the session builds none), its run folder under ``runs``."""
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
    assert "input." not in message, message   # the artist's file is named, not its copy in the run folder
    [run] = [folder for folder in runs.iterdir() if folder.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and not (run / ".img23d-reserve").exists(), manifest["status"]
    assert not list(run.glob("*_rigged.glb"))
    return message


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail, instead of hanging for minutes, a block that takes longer than ``seconds`` (a reader's loop over a
    hostile file, a binding that never ends)."""
    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
