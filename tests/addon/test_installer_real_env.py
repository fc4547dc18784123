"""The backend installer on real virtual environments (``python -m venv`` in a temporary folder) with a real pip:
what it must never delete. The fake interpreter's tests are test_installer_logic.py."""

from __future__ import annotations

from importlib import import_module

import os
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from installer_runs import CPU, PROTOCOL_WHEEL, _install, posix_only, stop_at
from testdata import REPO, SOURCE_PYTHONPATH

from img23d_installer import env_health, env_lock
install_mod = import_module("img23d_installer.install")  # the module: the package exports its install()

CLI = "import sys; from img23d_installer import cli; sys.exit(cli.main(sys.argv[1:]))"


class HeldIndex:
    """A package index on this computer that holds every request until released, then answers 404: a real pip,
    kept busy (as by a slow mirror) for as long as a test needs it."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.released = threading.Event()
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                index.asked.set()
                index.released.wait(120)
                self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass  # nothing on the test's output

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="held-index", daemon=True).start()
        self.pip_args = ["--index-url", f"http://127.0.0.1:{self.server.server_port}/simple", "--timeout", "60"]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def _venv_files(env: Path) -> set[str]:
    """The environment's files a deletion would take (its interpreter, its config, the mark, pip)."""
    return {str(path.relative_to(env)) for path in (env / "bin").iterdir()} | \
        {name for name in ("pyvenv.cfg", env_health.MADE_BY_IMG23D) if (env / name).is_file()} | \
        {"pip" for _ in env.glob("lib/python3*/site-packages/pip/__init__.py")}


@posix_only
def test_a_killed_installers_pip_keeps_the_environment_from_a_second_install(tmp_path: Path) -> None:
    """Blender crashing during Install Backend (the installer killed outright) left its pip running in a session of
    its own: the lock died with the installer, and the next install deleted the environment under that pip."""
    env = tmp_path / "env"
    index = HeldIndex()
    first = subprocess.Popen([sys.executable, "-c", CLI, "--target", str(env), "--torch-build", "cpu",
                              "--pip-args", " ".join(index.pip_args), "--log", str(tmp_path / "first.log")],
                             env={**os.environ, "PYTHONPATH": SOURCE_PYTHONPATH, "PIP_CONFIG_FILE": os.devnull},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Its venv made, its real pip upgrading itself from the held index: then the installer is killed.
        assert index.asked.wait(120), "the first install's pip never asked the index: " + \
            (tmp_path / "first.log").read_text()[-1000:]
        first.kill()
        first.wait(timeout=30)
        before, inode = _venv_files(env), env.stat().st_ino
        assert {"bin/python", "pyvenv.cfg", env_health.MADE_BY_IMG23D, "pip"} <= before
        with pytest.raises(install_mod.InstallError, match="another install of .*env is running"):
            install_mod.install(env, REPO / "backend", PROTOCOL_WHEEL, python=Path(sys.executable), torch=CPU,
                                pip_args=index.pip_args, log_path=tmp_path / "second.log",
                                **stop_at(install_mod.Step.UPGRADE_PIP))
        assert env.stat().st_ino == inode and _venv_files(env) == before, "the second install touched the first's"
        index.released.set()  # pip gets its answer and ends; the lock ends with it
        deadline = time.monotonic() + 60
        while True:
            try:
                with env_lock.held(env):
                    break
            except env_lock.EnvBusy:
                assert time.monotonic() < deadline, "the environment stayed locked after the first install's pip ended"
                time.sleep(0.1)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
        index.close()


@posix_only
def test_a_studio_venv_that_holds_img23d_protocol_is_never_deleted(tmp_path: Path) -> None:
    """A pipeline's venv with the protocol installed, given as --target, counted as the installer's own (it held an
    img23d package): found incomplete, it was deleted whole with the studio's scripts and packages."""
    env = tmp_path / "pipeline-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120,
                   capture_output=True)
    site = next(env.glob("lib/python3*/site-packages"))
    with zipfile.ZipFile(PROTOCOL_WHEEL) as wheel:  # installed as pip installs a wheel: its files and dist-info
        wheel.extractall(site)
    (env / "bin" / "render_farm.py").write_text("the studio's script")
    (site / "studio_tools").mkdir()
    (site / "studio_tools" / "__init__.py").write_text("the studio's package")
    with pytest.raises(install_mod.InstallError, match=f"not the installer's mark {env_health.MADE_BY_IMG23D}"):
        _install(env, tmp_path, python=Path(sys.executable), **stop_at(install_mod.Step.UPGRADE_PIP))
    assert (env / "bin" / "render_farm.py").read_text() == "the studio's script"
    assert (site / "studio_tools" / "__init__.py").read_text() == "the studio's package"
    assert not (env / env_health.MADE_BY_IMG23D).exists()
