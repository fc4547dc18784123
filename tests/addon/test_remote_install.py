"""Install Backend on an SSH host (``installer/remote_install.py``): what is sent, what the host's
shell runs, how the installer's reports are read (from a peer that may lie), and, against the
loopback sshd (tests/ssh_host.py), a missing Python and a cancel that stops everything there."""

from __future__ import annotations

from importlib import import_module

import io
import json
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

import ssh_host

from img23d_installer import remote_install
install_mod = import_module("img23d_installer.install")  # the module: the package exports its install()
from img23d_client import remote as remote_mod
Step = install_mod.Step


def _job(**changes):
    remote = remote_mod.RemoteHost(host="gpu-box", python=changes.pop("python", "~/envs/img23d/bin/python"),
                                   runs_dir="~/runs")
    return remote_install.HostInstall(remote=remote, **changes)


def test_the_bundle_holds_the_installer_the_backend_and_the_wheel_and_no_caches() -> None:
    with tarfile.open(fileobj=io.BytesIO(remote_install.bundle()), mode="r:gz") as tar:
        names = tar.getnames()
    assert "img23d_bundle/client/img23d_installer/cli.py" in names
    assert "img23d_bundle/client/img23d_client/process.py" in names
    assert "img23d_bundle/client/img23d_client/paths.py" in names and "img23d_bundle/backend/requirements.txt" in names
    assert "img23d_bundle/backend/img23d_backend/service/server.py" in names
    assert [n for n in names if n.startswith("img23d_bundle/wheels/img23d_protocol-")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # Nothing of the add-on itself (it imports bpy): only the packages, the backend and the wheel.
    assert not [n for n in names if n != "img23d_bundle" and not n.startswith(
        ("img23d_bundle/client", "img23d_bundle/backend", "img23d_bundle/wheels"))]


def test_the_hosts_command_quotes_every_word_and_expands_only_its_home() -> None:
    job = _job(python="~/my env; $(id)/bin/python", base_python="/opt/py 3/bin/python3", torch_spec="torch==2.13.0",
               pip_args=["--find-links", "/wheels dir"])
    line = job.remote.shell_line(job.words())
    words = subprocess.run(["sh", "-c", f"for w in {line}; do printf '%s\\n' \"$w\"; done"],
                           env={"HOME": "/home/artist", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                           timeout=30).stdout.splitlines()
    assert words[3] == "/opt/py 3/bin/python3" and words[4] == "-c"
    assert words[6:] == ["--target", "/home/artist/my env; $(id)", "--torch-build=auto", "--family=hunyuan3d",
                         "--json-progress",
                         "--torch-spec=torch==2.13.0", "--pip-args=--find-links '/wheels dir'"]
    # The bootstrap is one word of base64, so no quote or newline of it meets the host's shell.
    assert "\n" not in words[5] and words[5].startswith('exec(__import__("base64")')


def test_a_hosts_python_outside_an_environment_is_refused_before_anything_runs() -> None:
    with pytest.raises(install_mod.InstallError, match="is not in an environment's bin folder"):
        _job(python="/usr/bin/python3.12").target()


@pytest.mark.parametrize("line", [
    '{"img23d_install": "progress", "step": "rm -rf", "fraction": 0.5, "message": "x"}',
    '{"img23d_install": "progress", "step": "torch", "fraction": "half", "message": "x"}',
    '{"img23d_install": "result", "python": 7}',
    '{"img23d_install": "progress"' + " " * (70 * 1024) + "}",
    '{"img23d_install": [1, 2]',
    "Collecting torch",
])
def test_lines_that_are_not_the_installers_reports_only_go_to_the_log(line: str) -> None:
    seen: list = []
    reader = remote_install._Reader(lambda *args: seen.append(args))
    reader.line(line)
    assert seen == [] and reader.result is None and not reader.error


def test_the_installers_reports_become_progress_and_a_result() -> None:
    seen: list = []
    reader = remote_install._Reader(lambda *args: seen.append(args))
    reader.line(json.dumps({"img23d_install": "progress", "step": "torch", "fraction": 7.0, "message": "m" * 900}))
    assert seen == [(Step.TORCH, 1.0, "m" * 200)]
    reader.line(json.dumps({"img23d_install": "result", "env": "/h/env", "python": "/h/env/bin/python",
                            "action": "created", "torch": {"variant": "cu128", "reason": "driver 570",
                                                           "packages": ["torch"], "index_url": None},
                            "torch_version": "2.13.0+cu128", "device": "cuda:0", "device_name": "RTX 4090",
                            "log_path": "/h/env.install.log", "seconds": 300, "step_seconds": {"torch": 100},
                            "warnings": []}))
    reader.result.host = "gpu-box"
    assert reader.result.summary() == "Backend created on gpu-box: torch 2.13.0+cu128, running on cuda:0 (RTX 4090)"


# --- against the loopback host ---------------------------------------------------------------------

def _host_job(host, **changes):
    remote = remote_mod.RemoteHost(host=ssh_host.ALIAS, python=changes.pop("python"), runs_dir="~/runs",
                                   config_file=host.config)
    return remote_install.HostInstall(remote=remote, **changes)


def test_a_missing_python_on_the_host_is_one_sentence(host, tmp_path: Path) -> None:
    job = _host_job(host, python=str(host.path_for_host("never") / "bin" / "python"), base_python="python3.99")
    with pytest.raises(install_mod.InstallError, match=f"there is no python3.99 on {ssh_host.ALIAS}: install "
                                                       "Python 3.10 to 3.13 there"):
        remote_install.install_on_host(job, log_path=tmp_path / "install.log")


def _host_processes(host) -> str:
    return subprocess.run(["ps", "-o", "pid=,args=", "-u", host.user], capture_output=True, text=True,
                          timeout=30).stdout


@pytest.mark.timeout(600)
def test_cancel_stops_the_installer_on_the_host_and_leaves_nothing_running(host, tmp_path: Path) -> None:
    env = host.copy_env("cancelled-env")
    job = _host_job(host, python=str(env / "bin" / "python"), base_python=str(host.base_python))
    steps: list = []
    cancel = threading.Event()
    failure: list = []

    def progress(step, fraction, message) -> None:
        steps.append(step)
        if step is Step.UPGRADE_PIP:  # the installer runs there: the environment was checked
            cancel.set()

    def run() -> None:
        try:
            remote_install.install_on_host(job, log_path=tmp_path / "install.log", progress=progress,
                                           cancel=cancel.is_set)
        except install_mod.InstallError as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), f"the install over SSH did not stop within 300 s; steps seen: {steps}"
    assert failure and isinstance(failure[0], install_mod.InstallCancelled), failure
    deadline = time.monotonic() + 30
    while ("cli.py" in _host_processes(host) or "base64" in _host_processes(host)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "cli.py" not in _host_processes(host), "the installer still runs on the host after the cancel"
    assert "base64" not in _host_processes(host), "the installer's bootstrap still runs on the host after the cancel"
    # The host's temporary folder is its TMPDIR (tests/ssh_host.py); /tmp in case something wrote there anyway.
    left = [p for folder in (host.path_for_host("tmp"), Path("/tmp")) for p in folder.glob("img23d-install*")
            if p.owner() == host.user]
    assert not left, f"the installer's files stayed on the host: {left}"
