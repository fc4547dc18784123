"""The backend installer's logic, fast and without a GPU or network: what a failing step says and
when an environment is rebuilt (with a fake interpreter; the torch build: test_torch_choice.py)."""

from __future__ import annotations

from importlib import import_module

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testdata import REPO
from installer_runs import PROTOCOL_WHEEL, _install, fake_env, fake_python, posix_only, stop_at
from testdata import SOURCE_PYTHONPATH

from img23d_installer import torch_choice
install_mod = import_module("img23d_installer.install")  # the module: the package exports its install()
from img23d_installer import env_health


# --- repair detection -------------------------------------------------------------------------

@posix_only
def test_environment_states(tmp_path: Path) -> None:
    State = env_health.EnvState
    assert env_health.check_env(tmp_path / "nothing").state is State.MISSING
    (tmp_path / "empty").mkdir()
    assert env_health.check_env(tmp_path / "empty").state is State.MISSING
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "thesis.txt").write_text("precious")
    assert env_health.check_env(tmp_path / "documents").state is State.FOREIGN
    no_python = tmp_path / "no-python"
    no_python.mkdir()
    (no_python / "pyvenv.cfg").write_text("home = /gone\n")
    (no_python / env_health.MADE_BY_IMG23D).write_text("made by img23d's installer\n")
    assert env_health.check_env(no_python).state is State.BROKEN
    begun = tmp_path / "begun"  # an install stopped while venv ran: only the installer's mark is there
    begun.mkdir()
    (begun / env_health.MADE_BY_IMG23D).write_text("made by img23d's installer\n")
    assert env_health.check_env(begun).state is State.BROKEN
    broken = env_health.check_env(fake_env(tmp_path / "broken", "broken"))
    assert broken.state is State.BROKEN and "libpython" in broken.detail
    incomplete = env_health.check_env(fake_env(tmp_path / "incomplete", "incomplete"))
    assert incomplete.state is State.INCOMPLETE and "No module named 'torch'" in incomplete.detail
    healthy = env_health.check_env(fake_env(tmp_path / "healthy"))
    assert healthy.state is State.HEALTHY and healthy.torch_version == "2.13.0+cpu"


@posix_only
@pytest.mark.parametrize("mode", ["broken", "incomplete"])
def test_a_broken_or_incomplete_environment_is_rebuilt(tmp_path: Path, mode: str) -> None:
    env = fake_env(tmp_path / "env", mode)
    (env / "stale-file").write_text("from the old environment")
    base = fake_python(tmp_path / "base")
    with pytest.raises(install_mod.InstallCancelled) as caught:  # stop before starting a real backend
        _install(env, tmp_path, python=base, **stop_at(install_mod.Step.VERIFY))
    assert caught.value.step is install_mod.Step.VERIFY
    assert not (env / "stale-file").exists() and not (env / "fake-mode").exists()  # made anew
    log = (tmp_path / "logs" / "install.log").read_text()
    assert f"existing environment: {mode}" in log and "rebuilding it" in log
    calls = (env / "pip-calls.txt").read_text().splitlines()
    assert calls[0].startswith("install --upgrade pip>=24")
    assert calls[1].startswith("install torch==2.13.0")
    assert calls[2].startswith("install -r ") and " -c " in calls[2]   # torch pinned for the rest
    assert calls[3].startswith("install --no-deps hy3dgen==2.0.2")
    assert calls[4].startswith("install --no-deps --force-reinstall ")


@posix_only
def test_a_healthy_environment_is_kept_and_only_updated(tmp_path: Path) -> None:
    env = fake_env(tmp_path / "env")
    (env / "kept").write_text("still here")
    base = tmp_path / "no-such-python"  # never needed: no new environment is made
    with pytest.raises(install_mod.InstallCancelled):
        _install(env, tmp_path, python=base, **stop_at(install_mod.Step.REQUIREMENTS))
    assert (env / "kept").read_text() == "still here"
    log = (tmp_path / "logs" / "install.log").read_text()
    assert "existing environment: healthy" in log and "python -m venv" not in log
    assert "uninstall" not in (env / "pip-calls.txt").read_text()  # the same build stays


@posix_only
def test_a_healthy_environment_with_another_torch_build_gets_the_new_one(tmp_path: Path) -> None:
    env = fake_env(tmp_path / "env")  # has 2.13.0+cpu
    cuda = torch_choice.TorchChoice(("torch", "torchvision"), "https://download.pytorch.org/whl/cu128", "cu128", "t")
    with pytest.raises(install_mod.InstallCancelled):
        install_mod.install(env, REPO / "backend", PROTOCOL_WHEEL, torch=cuda, log_path=tmp_path / "install.log",
                            **stop_at(install_mod.Step.REQUIREMENTS))
    calls = (env / "pip-calls.txt").read_text().splitlines()
    # One pip run downloads the new build before it removes the old: an uninstall first left no torch at all
    # when the download failed or was cancelled, and the next Repair rebuilt the whole environment.
    assert not any(call.startswith("uninstall") for call in calls)
    assert calls[1].startswith("install --force-reinstall torch torchvision --index-url "
                               "https://download.pytorch.org/whl/cu128")


@posix_only
def test_a_virtual_environment_img23d_did_not_make_is_never_touched(tmp_path: Path) -> None:
    """Given as the target (or the SSH host's Python), a venv of the user's own failed the backend's probe and
    was deleted with everything in it."""
    env = fake_env(tmp_path / "mine", "incomplete")
    (env / env_health.MADE_BY_IMG23D).unlink()
    (env / "notebook.ipynb").write_text("precious")
    with pytest.raises(install_mod.InstallError, match="a virtual environment img23d did not make"):
        _install(env, tmp_path)
    assert (env / "notebook.ipynb").read_text() == "precious"


@posix_only
def test_checks_that_did_not_finish_keep_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow probe (a busy GPU) read as "does not import", and the environment was deleted and built anew."""
    env = fake_env(tmp_path / "env", "incomplete")
    real = install_mod.check_env
    monkeypatch.setattr(install_mod, "check_env", lambda where, timeout=180.0, **kw: real(where, timeout=0.01, **kw))
    with pytest.raises(install_mod.InstallError, match="was kept as it is: its checks did not finish"):
        _install(env, tmp_path)
    assert (env / "bin" / "python").is_file() and (env / env_health.MADE_BY_IMG23D).is_file()


@posix_only
def test_the_interpreter_is_checked_before_a_broken_environment_is_removed(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    env = fake_env(tmp_path / "env", "incomplete")

    def too_new(python: Path, timeout: float = 60.0) -> str:
        raise ValueError(f"{python} is Python 3.14.0; the backend's packages need Python 3.10 to 3.13")

    monkeypatch.setattr(install_mod, "check_interpreter", too_new)
    with pytest.raises(install_mod.InstallError, match="is Python 3.14.0"):
        _install(env, tmp_path)
    assert (env / "bin" / "python").is_file()  # the old one is there to repair once a right Python is chosen


def test_a_folder_that_is_not_an_environment_is_never_touched(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    with pytest.raises(install_mod.InstallError) as caught:
        _install(folder, tmp_path)
    assert caught.value.step is install_mod.Step.CREATE_VENV
    assert "not a Python virtual environment" in str(caught.value)
    assert (folder / "thesis.txt").read_text() == "precious"


# --- environment probes (the backend's 'probe' command) ----------------------------------------

@posix_only
def test_a_failing_environment_probe_marks_the_environment_for_a_rebuild(tmp_path: Path) -> None:
    State = env_health.EnvState
    mismatched = env_health.check_env(fake_env(tmp_path / "mismatched", "probe-fails"))
    assert mismatched.state is State.INCOMPLETE and mismatched.torch_version == "2.13.0+cpu"
    assert "deform_conv2d" in mismatched.detail and "torchvision 0.28.0+cu130" in mismatched.detail
    # A limit of the device (no kernel for it) is not fixed by reinstalling: the environment stays.
    limited = env_health.check_env(fake_env(tmp_path / "limited", "device-limit"))
    assert limited.state is State.HEALTHY and "a limit of this device" in limited.detail
    # A backend from before the probe command is asked the old question, not rebuilt for it.
    older = env_health.check_env(fake_env(tmp_path / "older", "no-probe"))
    assert older.state is State.HEALTHY and older.torch_version == "2.13.0+cpu"


@posix_only
def test_the_install_names_a_probe_failure_in_its_result(tmp_path: Path) -> None:
    # A platform whose torch and torchvision builds do not match: the rebuilt environment has the
    # same mismatch. The install finishes (the backend starts, the tiny models run) and its result
    # says, by name, that the real models cannot run.
    env = fake_env(tmp_path / "env", "probe-fails")
    base = fake_python(tmp_path / "base", "probe-fails")
    result, _ = _install(env, tmp_path, python=base)
    assert result.action == "rebuilt" and result.device == "cpu"
    [warning] = result.warnings
    assert "deform_conv2d" in warning and "torch 2.13.0+cpu" in warning
    assert "PyTorch build" in warning and "--torch-build" in warning
    assert warning in result.summary()
    log = (tmp_path / "logs" / "install.log").read_text()
    assert "existing environment: incomplete" in log and "rebuilding it" in log
    assert "environment probes: torchvision's compiled op" in log


@posix_only
def test_a_clean_install_has_no_warnings(tmp_path: Path) -> None:
    result, _ = _install(tmp_path / "env", tmp_path, python=fake_python(tmp_path / "base"))
    assert result.action == "created" and result.warnings == []
    assert "environment probes: passed" in (tmp_path / "logs" / "install.log").read_text()


@posix_only
def test_the_health_check_reads_the_real_backends_probe_report(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract: the backend's own probe command, run as check_env runs it, read right."""
    backend_python = os.environ.get("IMG23D_TEST_BACKEND_PYTHON", sys.executable)
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /usr\n")
    (env / env_health.MADE_BY_IMG23D).write_text("made by img23d's installer\n")
    python = env / "bin" / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{SOURCE_PYTHONPATH}" exec "{backend_python}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("IMG23D_FAILPOINTS", "probe.deform_conv2d:missing-op")  # passes into the child
    health = env_health.check_env(env)
    assert health.state is env_health.EnvState.INCOMPLETE, health
    assert "deform_conv2d" in health.detail and "Install Backend > Repair" in health.detail
    assert health.torch_version and health.torch_version[0].isdigit()


# --- failures name the step and the log --------------------------------------------------------

@posix_only
def test_a_pip_that_exits_1_names_the_step_and_the_log(tmp_path: Path) -> None:
    env = fake_env(tmp_path / "env", "pip-fails")
    with pytest.raises(install_mod.InstallError) as caught:
        _install(env, tmp_path)
    error = caught.value
    log_path = tmp_path / "logs" / "install.log"
    assert error.step is install_mod.Step.UPGRADE_PIP and error.log_path == log_path
    assert str(error).startswith("Upgrade pip failed: pip exited with code 1")
    assert str(log_path) in str(error)
    assert "fake pip failure" in log_path.read_text()  # the output is in the log, for the details


@posix_only
def test_an_interpreter_that_cannot_make_environments_is_named(tmp_path: Path) -> None:
    base = fake_python(tmp_path / "base", "broken")
    with pytest.raises(install_mod.InstallError) as caught:
        _install(tmp_path / "env", tmp_path, python=base)
    assert caught.value.step is install_mod.Step.CREATE_VENV
    assert "cannot create virtual environments" in str(caught.value) and "python3-venv" in str(caught.value)


@posix_only
@pytest.mark.parametrize("version", ["3.10.13", "3.11.7", "3.12.1", "3.13.0"])
def test_every_supported_python_can_be_the_base(tmp_path: Path, version: str) -> None:
    base = fake_python(tmp_path / "base")
    (tmp_path / "base" / "fake-version").write_text(version)
    assert env_health.check_interpreter(base) == version


@posix_only
@pytest.mark.parametrize("version", ["3.9.18", "3.14.0"])
def test_a_python_outside_the_range_says_how_to_pick_another(tmp_path: Path, version: str) -> None:
    # Blender 6 may ship a Python the backend's pins have no wheels for: the user is told which
    # Pythons work and where to choose one, not just that this one does not.
    base = fake_python(tmp_path / "base")
    (tmp_path / "base" / "fake-version").write_text(version)
    with pytest.raises(install_mod.InstallError) as caught:
        _install(tmp_path / "env", tmp_path, python=base)
    message = str(caught.value)
    assert caught.value.step is install_mod.Step.CREATE_VENV
    assert f"is Python {version}; the backend's packages need Python 3.10 to 3.13" in message
    assert "'Python for Install'" in message and "--python" in message
    assert not (tmp_path / "env").exists()


def test_a_missing_interpreter_is_named(tmp_path: Path) -> None:
    with pytest.raises(install_mod.InstallError) as caught:
        _install(tmp_path / "env", tmp_path, python=tmp_path / "nowhere" / "python3")
    assert caught.value.step is install_mod.Step.CREATE_VENV and "nowhere" in str(caught.value)


@posix_only
def test_nothing_reaches_the_console(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    env = fake_env(tmp_path / "env", "pip-fails")
    with pytest.raises(install_mod.InstallError):
        _install(env, tmp_path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_command_lines_unreadable_pip_arguments_are_one_sentence(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from img23d_installer import cli

    code = cli.main(["--target", str(tmp_path / "env"), "--torch-build", "cpu",
                     "--pip-args", '--find-links "/mnt/my wheels'])
    assert code == 2 and "error: --pip-args cannot be read (No closing quotation)" in capsys.readouterr().err
    assert not (tmp_path / "env").exists()


@pytest.mark.parametrize("entry", ["install_backend.py", "bootstrap"])
def test_a_python_too_old_for_the_installer_is_one_sentence_not_an_import_error(tmp_path: Path, entry: str) -> None:
    """Python 3.9 (Ubuntu 20.04's, Debian 11's) ended in "ImportError: cannot import name 'TypeGuard'", on the
    command line and on an SSH host, before any version was checked."""
    from img23d_installer import remote_install

    source = (REPO / "client" / "install_backend.py").read_text() if entry == "install_backend.py" else \
        remote_install.BOOTSTRAP
    source = source.replace("from __future__ import annotations\n", "")  # it must lead a file: here it would not
    pretend = "import sys; sys.version_info = (3, 9, 2, 'final', 0)\n"
    done = subprocess.run([sys.executable, "-c", pretend + source], input=b"0\n", capture_output=True, timeout=120,
                          cwd=REPO / "client")
    said = done.stderr.decode()
    assert done.returncode == 1 and "is Python 3.9; the installer needs Python 3.10" in said or \
        "is Python 3.9; the backend's packages need Python 3.10 to 3.13" in said, said
    assert "Traceback" not in said


@posix_only
def test_a_full_disk_is_the_steps_sentence_not_an_oserror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The log's first line, and a failed step's note, met the full disk too: a raw OSError escaped, and the
    add-on said "the installer failed unexpectedly" instead of naming the step."""
    from img23d_client.capped_log import CappedLog

    def full(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(CappedLog, "write", full)
    monkeypatch.setattr(install_mod.shutil, "rmtree", lambda *a, **k: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    with pytest.raises(install_mod.InstallError, match="Create the environment failed: .*No space left on device"):
        _install(fake_env(tmp_path / "env", "incomplete"), tmp_path)


@posix_only
def test_cancel_stops_the_environments_checks_at_once(tmp_path: Path) -> None:
    """The checks (up to four minutes: the probe's 180 s, the import's 60 s) did not look at Cancel."""
    env = fake_env(tmp_path / "env", "probe-hangs")
    started = time.monotonic()
    with pytest.raises(install_mod.InstallCancelled):
        _install(env, tmp_path, cancel=lambda: time.monotonic() - started > 1.0)
    assert time.monotonic() - started < 20
    assert (env / "bin" / "python").is_file()  # cancelled while looking: nothing was changed


@posix_only
def test_a_second_install_of_the_same_environment_waits_its_turn(tmp_path: Path) -> None:
    """Two Blenders, or the button and a terminal: the second deleted the first one's half-built environment
    while its pip ran, and truncated its log."""
    import fcntl

    env = fake_env(tmp_path / "env", "incomplete")
    log = tmp_path / "logs" / "install.log"
    log.parent.mkdir()
    log.write_text("the first install's log\n")
    with open(tmp_path / "env.install.lock", "a+b") as first:  # as the first install holds it
        fcntl.flock(first.fileno(), fcntl.LOCK_EX)
        with pytest.raises(install_mod.InstallError, match="another install of .*env is running"):
            _install(env, tmp_path)
    assert (env / "bin" / "python").is_file() and log.read_text() == "the first install's log\n"


def test_python_3_14_runs_the_installer_for_a_base_in_range(tmp_path: Path) -> None:
    """Refused under 3.14 even for --plan: the upper bound is the base's (--python), checked by the installer."""
    pretend = "import sys; sys.version_info = (3, 14, 0, 'final', 0)\n"
    source = (REPO / "client" / "install_backend.py").read_text().replace("from __future__ import annotations\n", "")
    done = subprocess.run([sys.executable, "-c", pretend + source, "--plan", "--torch-build", "cpu"],
                          capture_output=True, timeout=120, cwd=REPO / "client")
    assert done.returncode == 0 and b"CPU build, as asked" in done.stdout, done.stderr.decode()[-500:]


@posix_only
def test_a_venv_in_the_addons_own_folder_is_its_to_rebuild(tmp_path: Path) -> None:
    """An environment an installer from before the mark began and left before img23d's packages went in was
    taken for the artist's own; in the add-on's own folder (backend-env) it is the installer's."""
    env = fake_env(tmp_path / "backend-env", "incomplete")
    (env / env_health.MADE_BY_IMG23D).unlink()
    with pytest.raises(install_mod.InstallError, match="did not make"):
        _install(env, tmp_path)
    with pytest.raises(install_mod.InstallCancelled):  # rebuilt: it got as far as the next step
        _install(env, tmp_path, claimed=True, **stop_at(install_mod.Step.UPGRADE_PIP))
