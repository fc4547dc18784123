"""The backend installer's logic, fast and without a GPU or network: which torch build, what
a failing step says, when an environment is rebuilt, and cancelling (with a fake interpreter)."""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from addon_package import REPO, load
from testdata import SOURCE_PYTHONPATH

torch_choice = load("installer.torch_choice")
install_mod = load("installer.install")
env_health = load("installer.env_health")
commands = load("installer.commands")
task_mod = load("installer.task")

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the fake interpreter is a script with a shebang")

# --- nvidia-smi as drivers print it ---------------------------------------------------------

SMI_550 = """\
Thu Mar  7 10:00:00 2024
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA GeForce RTX 4090        Off |   00000000:01:00.0  On |                  Off |
|  0%   45C    P8             20W /  450W |     500MiB /  24564MiB |      2%      Default |
|                                         |                        |                  N/A |
+-----------------------------------------+------------------------+----------------------+
"""
SMI_570_TWO_GPUS = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 570.86.15              Driver Version: 570.86.15      CUDA Version: 12.8     |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:19:00.0 Off |                    0 |
| N/A   30C    P0             70W /  700W |       1MiB /  81559MiB |      0%      Default |
|   1  NVIDIA H100 80GB HBM3          On  |   00000000:3B:00.0 Off |                    0 |
| N/A   31C    P0             71W /  700W |       1MiB /  81559MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
"""
SMI_580 = "| NVIDIA-SMI 580.65.06    Driver Version: 580.65.06    CUDA Version: 13.0     |\n"
SMI_535 = "| NVIDIA-SMI 535.183.01   Driver Version: 535.183.01   CUDA Version: 12.2     |\n"
SMI_WINDOWS = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 552.22                 Driver Version: 552.22         CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                     TCC/WDDM  | Bus-Id          Disp.A | Volatile Uncorr. ECC |
|=========================================+========================+======================|
|   0  NVIDIA GeForce RTX 3060      WDDM  |   00000000:01:00.0  On |                  N/A |
"""
SMI_470_OLD_CUDA = """\
+-----------------------------------------------------------------------------+
| NVIDIA-SMI 470.182.03   Driver Version: 470.182.03   CUDA Version: 11.4     |
|-------------------------------+----------------------+----------------------+
|   0  Tesla K80           Off  | 00000000:00:1E.0 Off |                    0 |
"""
SMI_NO_CUDA_LINE_525 = "| NVIDIA-SMI 525.60.13    Driver Version: 525.60.13 |\n"
SMI_NO_CUDA_LINE_418 = "| NVIDIA-SMI 418.87.01    Driver Version: 418.87.01 |\n"


def _linux(smi: str | None) -> object:
    return torch_choice.SystemInfo(platform="linux", machine="x86_64", nvidia_smi=smi)


def test_nvidia_smi_is_parsed() -> None:
    info = torch_choice.parse_nvidia_smi(SMI_550)
    assert info.driver_version == "550.54.15" and info.cuda == (12, 4)
    assert info.gpus == ("NVIDIA GeForce RTX 4090",)
    two = torch_choice.parse_nvidia_smi(SMI_570_TWO_GPUS)
    assert two.cuda == (12, 8) and two.gpus == ("NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3")
    assert torch_choice.parse_nvidia_smi(SMI_WINDOWS).cuda == (12, 4)
    assert torch_choice.parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate") is None


@pytest.mark.parametrize("smi, variant", [
    (SMI_580, "cu130"), (SMI_570_TWO_GPUS, "cu128"), (SMI_550, "cu124"), (SMI_WINDOWS, "cu124"),
    (SMI_535, "cu121"),                       # 12.2: newest index at or below it is 12.1
    (SMI_NO_CUDA_LINE_525, "cu118"),          # no "CUDA Version": from the driver number (525 -> 11.8)
    (SMI_470_OLD_CUDA, "cpu"),                # 11.4 is older than any index: CPU, and say why
    (SMI_NO_CUDA_LINE_418, "cpu"),
    (None, "cpu"),                            # no driver at all
])
def test_the_driver_decides_the_cuda_build(smi: str | None, variant: str) -> None:
    choice = torch_choice.plan_torch(_linux(smi))
    assert choice.variant == variant
    assert choice.index_url == f"https://download.pytorch.org/whl/{variant}"
    assert choice.packages == ("torch", "torchvision")
    assert choice.pip_arguments() == ["torch", "torchvision", "--index-url", choice.index_url]


def test_the_reason_tells_an_old_driver_what_to_do() -> None:
    reason = torch_choice.plan_torch(_linux(SMI_470_OLD_CUDA)).reason
    assert "470.182.03" in reason and "11.4" in reason and "update the driver" in reason
    assert "RTX 4090" in torch_choice.plan_torch(_linux(SMI_550)).reason
    assert "no NVIDIA driver" in torch_choice.plan_torch(_linux(None)).reason


def test_macs_use_pypi_builds() -> None:
    arm = torch_choice.plan_torch(torch_choice.SystemInfo("darwin", "arm64"))
    assert arm.variant == "pypi" and arm.index_url is None and "MPS" in arm.reason
    assert arm.pip_arguments() == ["torch", "torchvision"]
    assert torch_choice.plan_torch(torch_choice.SystemInfo("darwin", "x86_64")).index_url is None


def test_overrides_win() -> None:
    forced = torch_choice.plan_torch(_linux(SMI_550), build="cu118")
    assert forced.variant == "cu118" and forced.index_url.endswith("/cu118")
    assert torch_choice.plan_torch(_linux(SMI_550), build="cpu").variant == "cpu"
    pinned = torch_choice.plan_torch(_linux(SMI_550), torch_spec="torch==2.13.0 torchvision==0.28.0")
    assert pinned.variant == "custom" and pinned.index_url is None
    assert pinned.pip_arguments() == ["torch==2.13.0", "torchvision==0.28.0"]
    mirror = torch_choice.plan_torch(_linux(None), index_url="https://mirror.example/whl/cu126")
    assert mirror.pip_arguments()[-2:] == ["--index-url", "https://mirror.example/whl/cu126"]
    with pytest.raises(ValueError, match="unknown torch build"):
        torch_choice.plan_torch(_linux(None), build="cu999")


def test_an_installed_build_is_recognised() -> None:
    cpu = torch_choice.plan_torch(_linux(None))
    cuda = torch_choice.plan_torch(_linux(SMI_550))
    assert cpu.matches("2.13.0+cpu") and not cpu.matches("2.6.0+cu124")
    assert cuda.matches("2.6.0+cu124") and not cuda.matches("2.13.0+cpu")
    custom = torch_choice.plan_torch(_linux(None), torch_spec="torch==2.13.0")
    assert custom.matches("2.13.0+cpu") and custom.matches("2.13.0")


# --- a fake interpreter -----------------------------------------------------------------------

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
    assert env_health.check_env(no_python).state is State.BROKEN
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
    assert calls[1] == "uninstall -y torch torchvision"
    assert calls[2].startswith("install torch torchvision --index-url https://download.pytorch.org/whl/cu128")


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


# --- cancelling ----------------------------------------------------------------------------------

@posix_only
def test_cancel_between_steps(tmp_path: Path) -> None:
    env = fake_env(tmp_path / "env")
    # Asked while the first step inspects the environment (nothing to kill there): the next step
    # never starts.
    with pytest.raises(install_mod.InstallCancelled) as caught:
        _install(env, tmp_path, **stop_at(install_mod.Step.CREATE_VENV))
    assert caught.value.step is install_mod.Step.UPGRADE_PIP
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
