"""The main job's choice of the backend's Python: an option, else the environment, else .venv.

Blender running the main job may be one whose Python lacks the backend's packages (5.2 with
a 3.11 backend, say); it must never assume its own interpreter is the backend's.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from testdata import REPO

pytestmark = pytest.mark.process  # drives real processes (pytest.ini)


def _main_job() -> ModuleType:
    spec = importlib.util.spec_from_file_location("img23d_main_job", REPO / "scripts" / "main_job.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # bpy is imported only when the job runs, not here
    return module


def _interpreter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    python = folder / "python"
    python.write_text("#!/bin/sh\n")
    return python


def test_the_option_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMG23D_BACKEND_PYTHON", str(_interpreter(tmp_path / "from-env")))
    chosen = _interpreter(tmp_path / "from-option")
    assert _main_job().parse_args(["--backend-python", str(chosen)]).backend_python == chosen


def test_the_environment_variable_is_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = _interpreter(tmp_path / "from-env")
    monkeypatch.setenv("IMG23D_BACKEND_PYTHON", str(python))
    assert _main_job().parse_args([]).backend_python == python


def test_the_default_is_the_repository_venv_not_this_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMG23D_BACKEND_PYTHON", raising=False)
    default = _main_job().default_backend_python()
    assert default == REPO / ".venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def test_a_missing_interpreter_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _main_job().parse_args(["--backend-python", str(tmp_path / "nowhere")])
    assert caught.value.code == 2
    assert "no backend Python at" in capsys.readouterr().err


def test_the_main_job_says_each_step_before_it_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/demo.sh ran for a minute without a word (issue 87 item 6): each slow step is said first, on stderr.
    Blender stands in here up to the Generate, which stops the job (the whole job runs in the test below)."""
    job = _main_job()

    def generate() -> None:
        print("the operator ran", file=sys.stderr)
        raise RuntimeError("stopped here")

    bpy = SimpleNamespace(ops=SimpleNamespace(img23d=SimpleNamespace(generate=generate)))
    monkeypatch.setattr(job, "install_addon", lambda out: bpy)
    monkeypatch.setattr(job, "clear_default_objects", lambda bpy: None)
    monkeypatch.setattr(job, "configure", lambda bpy, args: None)
    python = _interpreter(tmp_path / "env")
    assert job.main(["--backend-python", str(python), "--out", str(tmp_path / "out")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("main job: building the add-on and installing it into a Blender user folder")
    assert lines[1].startswith("main job: generating 'house, chimney, barrel' from house_scene.png with the tiny "
                               f"models: the backend starts with {python} and loads its models first")
    assert lines[2:] == ["the operator ran", "generate failed: stopped here"]


def test_the_main_job_runs_with_its_backend_on_another_host(host, tmp_path: Path) -> None:
    """``scripts/main_job.py --remote``: Blender here, the backend over SSH on the loopback host."""
    import subprocess

    import ssh_host

    host_runs = host.path_for_host("main-job-runs")
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "main_job.py"), "--no-texture",
                          "--remote", ssh_host.ALIAS, "--remote-python", str(host.backend_python()),
                          "--remote-runs", str(host_runs), "--ssh-config", str(host.config),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "objects: barrel, chimney, house" in out.stdout
    said = [line for line in out.stderr.splitlines() if line.startswith("main job: ")]
    assert [line.split()[2] for line in said] == ["building", "generating", "rendering", "saving"], out.stderr[-2000:]
    [local_run] = [p for p in (tmp_path / "out" / "runs").iterdir() if p.is_dir() and not p.name.startswith("_")]
    assert (host_runs / local_run.name / "manifest.json").is_file()  # made there, mirrored here
    assert sorted(p.name for p in local_run.glob("*.glb")) == ["barrel.glb", "chimney.glb", "house.glb"]
    assert (tmp_path / "out" / "scene.blend").is_file() and (tmp_path / "out" / "preview.png").is_file()
