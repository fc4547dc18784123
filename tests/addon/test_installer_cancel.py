"""The backend installer's cancelling, between steps and of a running pip, and the UI's task wrapper."""

from __future__ import annotations

from importlib import import_module

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from installer_runs import _install, fake_env, posix_only
from testdata import SOURCE_PYTHONPATH

install_mod = import_module("img23d_installer.install")  # the module: the package exports its install()
from img23d_installer import task as task_mod


# --- cancelling ----------------------------------------------------------------------------------

@posix_only
def test_cancel_between_steps(tmp_path: Path) -> None:
    env = fake_env(tmp_path / "env")
    log = tmp_path / "logs" / "install.log"

    def inspected() -> bool:
        # Asked once the first step has looked at the environment (its log says what it found), so between two
        # steps whatever the load: asked as the step began, a loaded machine's slow check was cancelled inside
        # the first step (as it should be: Cancel kills a running check), and the test failed one run in many.
        return log.is_file() and "existing environment:" in log.read_text(encoding="utf-8", errors="replace")

    with pytest.raises(install_mod.InstallCancelled) as caught:
        _install(env, tmp_path, cancel=inspected)
    assert caught.value.step is install_mod.Step.UPGRADE_PIP   # the next step never starts
    assert "cancelled" in str(caught.value) and "run it again" in str(caught.value)
    assert not (env / "pip-calls.txt").exists()


@posix_only
def test_cancel_kills_a_running_pip(tmp_path: Path) -> None:
    env = fake_env(tmp_path / "env", "pip-hangs")
    flag = threading.Event()
    threading.Timer(1.5, flag.set).start()
    started = time.monotonic()
    with pytest.raises(install_mod.InstallCancelled) as caught:
        _install(env, tmp_path, cancel=flag.is_set)
    assert time.monotonic() - started < 10
    assert caught.value.step is install_mod.Step.UPGRADE_PIP
    pid = int((env / "pip.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed, and reaped: nothing left running
    assert "Collecting torch" in (tmp_path / "logs" / "install.log").read_text()


@posix_only
def test_progress_is_ordered_and_ends_below_one_when_stopped(tmp_path: Path) -> None:
    env = fake_env(tmp_path / "env")
    seen: list = []
    with pytest.raises(install_mod.InstallCancelled):
        _install(env, tmp_path, progress=lambda *a: seen.append(a),
                 cancel=lambda: any(step is install_mod.Step.VERIFY for step, _, _ in seen))
    fractions = [fraction for _, fraction, _ in seen]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] < 1
    assert [s for s, _, m in seen if m == s.label] == list(install_mod.Step)


# --- the UI's task wrapper ----------------------------------------------------------------------

def test_the_task_reports_errors_and_results() -> None:
    Step = install_mod.Step

    def failing(progress, cancel):
        progress(Step.TORCH, 0.1, "Collecting torch")
        raise install_mod.InstallError(Step.TORCH, "pip exited with code 1", Path("/logs/install.log"))

    task = task_mod.InstallTask()
    task.run_here(failing)
    assert task.finished and task.result is None and not task.cancelled
    assert task.error.startswith("Install PyTorch failed") and task.snapshot()[0] is Step.TORCH

    def threaded(progress, cancel):
        while not cancel():
            time.sleep(0.01)
        raise install_mod.InstallCancelled(Step.REQUIREMENTS, Path("/logs/install.log"))

    task = task_mod.InstallTask()
    task.start(threaded)
    task.cancel()
    task.join(timeout=5)
    assert task.finished and task.cancelled and "cancelled" in task.error


@posix_only
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_the_command_line_installer_stopped_by_a_signal_stops_its_pip(tmp_path: Path, signum: int) -> None:
    """pip runs in a session of its own: a terminal closed (SIGHUP) or a SIGTERM ended the installer and left
    pip writing into the environment, racing the next Install."""
    env = fake_env(tmp_path / "env", "pip-hangs")
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from img23d_installer import cli; "
                             "sys.exit(cli.main(sys.argv[1:]))", "--target", str(env), "--torch-build", "cpu",
                             "--log", str(tmp_path / "install.log")],
                            env={**os.environ, "PYTHONPATH": SOURCE_PYTHONPATH}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (env / "pip.pid").is_file():
            assert time.monotonic() < deadline and proc.poll() is None, "pip never started"
            time.sleep(0.1)
        pip = int((env / "pip.pid").read_text())
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    with pytest.raises(ProcessLookupError):
        os.kill(pip, 0)  # killed with the installer, and reaped
    assert "cancelled; run it again to finish" in proc.stderr.read()


@posix_only
def test_the_command_line_installer_under_nohup_runs_on_after_a_hang_up(tmp_path: Path) -> None:
    """nohup ignores SIGHUP so that an install outlives its terminal: the installer took it over and stopped."""
    env = fake_env(tmp_path / "env", "pip-hangs")
    proc = subprocess.Popen([sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
                             "from img23d_installer import cli; sys.exit(cli.main(sys.argv[1:]))", "--target",
                             str(env), "--torch-build", "cpu", "--log", str(tmp_path / "install.log")],
                            env={**os.environ, "PYTHONPATH": SOURCE_PYTHONPATH}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (env / "pip.pid").is_file():
            assert time.monotonic() < deadline and proc.poll() is None, "pip never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert proc.poll() is None, "a hang-up stopped an install run under nohup"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
