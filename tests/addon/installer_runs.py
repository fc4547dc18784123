"""Installer runs in tests: a fake interpreter and environment (fake_python.py), a CPU torch, stopping at a step."""

from __future__ import annotations

from importlib import import_module

import stat
import sys
import threading
from pathlib import Path

import pytest

from testdata import REPO

from img23d_installer import env_health, torch_choice
install_mod = import_module("img23d_installer.install")  # the module: the package exports its install()

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the fake interpreter is a script with a shebang")


def fake_python(folder: Path, mode: str = "healthy") -> Path:
    """An executable 'python' that answers like an interpreter (see fake_python.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "python"
    source = (Path(__file__).parent / "fake_python.py").read_text()
    script.write_text(f"#!{sys.executable}\n{source}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    if mode != "healthy":
        (folder / "fake-mode").write_text(mode)
    return script


def fake_env(env: Path, mode: str = "healthy") -> Path:
    """A virtual environment whose python is the fake (mode file in the env's root)."""
    fake_python(env / "bin")
    (env / "pyvenv.cfg").write_text("home = /nowhere\n")
    (env / env_health.MADE_BY_IMG23D).write_text("made by img23d's installer\n")  # one the installer made
    if mode != "healthy":
        (env / "fake-mode").write_text(mode)
    return env


CPU = torch_choice.TorchChoice(("torch==2.13.0",), None, "custom", "test")
PROTOCOL_WHEEL = next((REPO / "wheels").glob("img23d_protocol-*.whl"))


def stop_at(step) -> dict:
    """progress and cancel callbacks that cancel as soon as ``step`` begins."""
    reached = threading.Event()

    def progress(current, fraction, message):
        if current is step:
            reached.set()

    return {"progress": progress, "cancel": reached.is_set}


def _install(env: Path, tmp_path: Path, **kwargs):
    seen: list = []
    kwargs.setdefault("progress", lambda step, fraction, message: seen.append((step, fraction, message)))
    result = install_mod.install(env, REPO / "backend", PROTOCOL_WHEEL, torch=CPU,
                                 log_path=tmp_path / "logs" / "install.log",
                                 **kwargs)
    return result, seen
