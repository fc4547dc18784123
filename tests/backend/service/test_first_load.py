"""A freshly started backend loads each model on its own: no stage may rely on an earlier stage
having readied the environment for it. Matting is the first model to load in the whole-picture
mode and in Re-texture, on any picture without transparency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

from backend_proc import BackendProcess
from artist_meshes import mesh_file
from image_files import picture_without_alpha
from testdata import FAST_OPTIONS, FAST_PAINT

pytestmark = [pytest.mark.process,  # its subject is img23d's processes (pytest.ini)
              pytest.mark.lane_c]  # in lane C all the same, for the lanes' balance

FAST_FLAGS = ["--steps", str(FAST_OPTIONS["steps"]), "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--face-budget", str(FAST_OPTIONS["face_budget"]), "--no-texture"]


def test_the_whole_picture_mode_works_in_a_fresh_backend(backend_env: dict[str, str], tmp_path: Path) -> None:
    picture = picture_without_alpha(tmp_path)
    out = subprocess.run([sys.executable, "-m", "img23d_backend", "generate", str(picture), "--models", "tiny",
                          "--device", "cpu", "--out", str(tmp_path / "runs"), *FAST_FLAGS],
                         env=backend_env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    [run] = list((tmp_path / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    [record] = manifest["records"]
    assert record["matte"] and (run / record["matte"]).is_file()  # matting ran: the file had no alpha
    assert len(trimesh.load(run / record["mesh"], force="mesh").faces) > 0
    counters = manifest["model_counters"]
    assert counters["matting"]["loads_from_disk"] == 1 and counters["grounding"]["loads_from_disk"] == 0


def test_retexture_works_in_a_fresh_backend(backend_env: dict[str, str], tmp_path: Path) -> None:
    picture = picture_without_alpha(tmp_path)
    mesh = mesh_file(trimesh.creation.icosphere(subdivisions=2), tmp_path / "ball.npz", with_uvs=False)
    proc = BackendProcess(backend_env, tmp_path / "runs")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        reply = proc.request({"type": "retexture", "id": "rt", "image": str(picture), "mesh": str(mesh),
                              "name": "ball", "options": FAST_PAINT}, timeout=300)
        assert reply["type"] == "result", reply
        assert Path(reply["data"]["texture"]).is_file() and reply["data"]["uv_created"]
        run = Path(reply["data"]["run_dir"])
        assert (run / "mattes" / "reference.png").is_file()
    finally:
        proc.close()
