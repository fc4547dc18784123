"""The licence-clean family end to end: `generate --family clean` with the tiny replicas, in a
Python where importing hy3dgen fails (and says so if anything tries)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

from cli_inprocess import RunCli, run_cli
from testdata import HOUSE, SOURCE_PYTHONPATH

RUN_TIMEOUT = 300
BLOCKER = '''import os
from pathlib import Path
Path(os.environ["IMG23D_TEST_HY3DGEN_MARK"]).write_text("hy3dgen was imported")
raise ImportError("hy3dgen is not installed here (the licence-clean family's test)")
'''


@pytest.fixture
def no_hy3dgen(tmp_path: Path) -> dict[str, str]:
    """A child's environment whose first ``hy3dgen`` on the path refuses to import, leaving a mark."""
    blocked = tmp_path / "blocked"
    (blocked / "hy3dgen").mkdir(parents=True)
    (blocked / "hy3dgen" / "__init__.py").write_text(BLOCKER)
    mark = tmp_path / "hy3dgen-imported"
    return {"PYTHONPATH": os.pathsep.join([str(blocked), SOURCE_PYTHONPATH]), "IMG23D_TEST_HY3DGEN_MARK": str(mark)}


def test_a_clean_job_makes_one_untextured_mesh_per_name_without_hy3dgen(tiny_root: Path, tmp_path: Path,
                                                                        no_hy3dgen: dict[str, str]) -> None:
    # Texture off: every mesh untextured, and nothing skipped (the textured job: test_step1x_texture_jobs).
    if not HOUSE.is_file():
        pytest.skip(f"needs the example picture {HOUSE}")
    env = {**os.environ, **no_hy3dgen, "IMG23D_TINY_MODELS": str(tiny_root), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "img23d_backend", "generate", str(HOUSE), "--targets",
                           "house, chimney", "--models", "tiny", "--family", "clean", "--out", str(out),
                           "--octree-resolution", "32", "--seed", "4", "--no-texture"],
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not Path(no_hy3dgen["IMG23D_TEST_HY3DGEN_MARK"]).exists(), "the clean family imported hy3dgen"
    assert "texture skipped" not in done.stdout and "FAILED" not in done.stdout, done.stdout
    [run] = list(out.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["models"]["shape"]["id"] == "tiny/step1x-3d"
    assert manifest["texture_skipped"] is None
    # The model's own steps and guidance, recorded as they ran.
    assert manifest["options"]["steps"] == 3 and manifest["options"]["guidance_scale"] == 7.5
    for name in ("house", "chimney"):
        mesh = trimesh.load(run / f"{name}.glb", force="mesh")
        assert len(mesh.faces) > 100, name
    assert all(record["status"] == "done" and not record["textured"] for record in manifest["records"])


def test_a_hunyuan_shape_in_the_clean_family_is_one_sentence(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    # In this process (cli_inprocess): a refusal's sentence and exit code; a process of its own paid about
    # 4.5 CPU-seconds of imports before it refused.
    done = run_cli(capsys, "generate", HOUSE, "--family", "clean", "--shape", "2mini", "--out", tmp_path / "runs",
                   env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "shape model '2mini' is not in the family 'clean'" in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_label_job_runs_the_label_model_with_its_labels(cli: RunCli, tmp_path: Path) -> None:
    # In this process (cli_inprocess): what the job writes is the subject, not its process.
    if not HOUSE.is_file():
        pytest.skip(f"needs the example picture {HOUSE}")
    out = tmp_path / "runs"
    done = cli("generate", HOUSE, "--targets", "house", "--models", "tiny", "--shape", "step1x-label", "--symmetry",
               "x", "--edges", "sharp", "--out", out, "--octree-resolution", "32", "--no-texture", "--seed", "4")
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = list(out.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["models"]["shape"]["subfolder"] == "Step1X-3D-Geometry-Label-1300m"
    assert manifest["options"]["symmetry"] == "x" and manifest["options"]["sharpness"] == "sharp"
    assert len(trimesh.load(run / "house.glb", force="mesh").faces) > 100


@pytest.mark.parametrize("family", ["clean", "hunyuan3d"])
def test_labels_for_a_model_without_them_are_one_sentence(cli: RunCli, tmp_path: Path, family: str) -> None:
    # In this process (cli_inprocess), as the refusal above: a process of its own paid its imports first.
    done = cli("generate", HOUSE, "--targets", "house", "--models", "tiny", "--family", family, "--edges", "smooth",
               "--no-texture", "--out", tmp_path / "runs")
    assert done.returncode != 0
    assert "symmetry and sharpness need a shape model that takes labels (step1x-label)" in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
