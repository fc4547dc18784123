"""The command line as a person without Blender uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import trimesh

from testdata import FAST_OPTIONS, HOUSE

FAST_FLAGS = ["--steps", str(FAST_OPTIONS["steps"]), "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--face-budget", str(FAST_OPTIONS["face_budget"]), "--no-texture"]


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "img23d_backend", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_generate_three_names_on_the_house(backend_env: dict[str, str], tmp_path: Path) -> None:
    out = _cli(backend_env, "generate", str(HOUSE), "--targets", "house, chimney, barrel", "--models", "tiny",
               "--device", "cpu", "--out", str(tmp_path), *FAST_FLAGS)
    assert out.returncode == 0, out.stderr
    [run] = list(tmp_path.iterdir())
    for name in ("house", "chimney", "barrel"):
        assert f"{name}: {run / (name + '.glb')}" in out.stdout
        assert len(trimesh.load(run / f"{name}.glb", force="mesh").faces) > 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert {r: c["loads_from_disk"] for r, c in manifest["model_counters"].items()} == {
        "grounding": 1, "matting": 1, "shape": 1, "delight": 0, "paint": 0, "depth": 1}
    assert "[shape" in out.stderr  # progress went to stderr, results to stdout


def test_partial_success_exits_3_and_says_which_failed(backend_env: dict[str, str], tmp_path: Path) -> None:
    out = _cli(backend_env, "generate", str(HOUSE), "--targets", "chimney, unicorn", "--models", "tiny",
               "--device", "cpu", "--out", str(tmp_path), *FAST_FLAGS)
    assert out.returncode == 3, out.stderr
    assert "unicorn: FAILED [target_not_found]" in out.stdout


def test_detect_prints_boxes_in_image_pixels(backend_env: dict[str, str], tmp_path: Path) -> None:
    out = _cli(backend_env, "detect", str(HOUSE), "--targets", "house, barrel", "--models", "tiny",
               "--device", "cpu", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    x0, y0, x1, y1 = map(float, lines["house"].split())
    assert 0 <= x0 < x1 <= 1024 and 0 <= y0 < y1 <= 1024
    assert x1 - x0 > 500  # the house spans most of the picture (the tiny model's fixed answer)


def test_bad_usage_exits_2_with_a_message(backend_env: dict[str, str], tmp_path: Path) -> None:
    out = _cli(backend_env, "generate", str(HOUSE), "--targets", "house, House", "--models", "tiny",
               "--out", str(tmp_path))
    assert out.returncode == 2 and "asked for twice" in out.stderr
    out = _cli(backend_env, "generate", str(HOUSE), "--models", "tiny", "--steps", "0", "--out", str(tmp_path))
    assert out.returncode == 2 and "steps" in out.stderr
    out = _cli(backend_env, "generate", str(HOUSE), "--models", "tiny", "--device", "cuda", "--out", str(tmp_path))
    assert out.returncode == 2 and "no CUDA GPU" in out.stderr


def test_real_models_offline_say_what_is_missing_and_keep_the_run(backend_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    env = {**backend_env, "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    out = _cli(env, "generate", str(HOUSE), "--targets", "house", "--offline", "--device", "cpu",
               "--out", str(tmp_path / "runs"))
    assert out.returncode == 1
    assert "[model_missing]" in out.stderr and "Qwen/Qwen3-VL-2B-Instruct" in out.stderr
    [run] = list((tmp_path / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["errors"][0]["code"] == "model_missing"
    assert (run / "input.png").is_file()


def test_generate_textured_on_the_penguin(backend_env: dict[str, str], tmp_path: Path) -> None:
    from testdata import PENGUIN

    flags = [f for f in FAST_FLAGS if f != "--no-texture"]
    out = _cli(backend_env, "generate", str(PENGUIN), "--models", "tiny", "--device", "cpu", "--out", str(tmp_path),
               *flags, "--texture-size", "256", "--paint-steps", "2", "--delight-steps", "2")
    assert out.returncode == 0, out.stderr
    [run] = list(tmp_path.iterdir())
    mesh = trimesh.load(run / "penguin_sign.glb", force="mesh")
    assert mesh.visual.uv is not None and len(mesh.visual.uv) == len(mesh.vertices)
    texture = mesh.visual.material.baseColorTexture
    assert texture.size == (256, 256)
    manifest = json.loads((run / "manifest.json").read_text())
    [record] = manifest["records"]
    assert record["textured"] is True and record["error"] is None
    assert manifest["memory_peaks"]["paint"] > 0 and manifest["timings"]["paint"] > 0
    assert manifest["model_counters"]["paint"]["loads_from_disk"] == 1


def test_the_command_line_imports_with_no_third_party_packages() -> None:
    # A broken environment (no psutil, no torch) must still get as far as `serve`'s handler
    # that names the missing package: nothing the CLI imports at startup may need one.
    backend_dir = Path(__file__).resolve().parents[2] / "backend"
    code = f"import sys; sys.path.insert(0, {str(backend_dir)!r}); import img23d_backend.cli"
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
