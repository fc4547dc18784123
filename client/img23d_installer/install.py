"""Build (or repair) the backend's Python environment, step by named step.

The steps: create the virtual environment, upgrade pip, install torch (the build
``torch_choice`` picked), the backend's pinned requirements, hy3dgen without its web-UI
dependencies, the backend package itself, and finally run the backend's environment probes
(a failure is the result's warning) and start the backend from the new environment through
the add-on's own client and wait for its hello.

Re-running repairs: an environment whose python is broken, that cannot import the backend
and torch, or whose probes fail in a way reinstalling fixes, is rebuilt from scratch; a
healthy one keeps what it has and only gets what is missing. Every command's output goes to
the log file, nothing to the console. A failing step raises ``InstallError`` naming the step
and the log; ``cancel()`` is checked between steps and while a command runs (the command is
killed).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Callable

import img23d_protocol as protocol

from img23d_client.capped_log import CappedLog
from img23d_client.process import LaunchSettings
from img23d_client.session import BackendSession, State
from . import env_lock
from .commands import Cancelled, capture, run_logged
from .env_health import (MADE_BY_IMG23D, EnvHealth, EnvState, check_env, check_interpreter, env_python, mark_made,
                         run_probes)
from .torch_choice import CUDA_TAG_NAMES, TorchChoice, index_for

PIP_MINIMUM = "pip>=24"
VERIFY_TIMEOUT = 300.0       # the first start compiles and imports torch, and builds the tiny models
PIP_FLAGS = ["--no-input", "--disable-pip-version-check", "--progress-bar", "off"]


class Step(str, Enum):
    CREATE_VENV = "create_venv"
    UPGRADE_PIP = "upgrade_pip"
    TORCH = "torch"
    REQUIREMENTS = "requirements"
    HY3DGEN = "hy3dgen"
    BACKEND = "backend"
    VERIFY = "verify"

    @property
    def label(self) -> str:
        return STEP_LABELS[self]


STEP_LABELS = {
    Step.CREATE_VENV: "Create the environment",
    Step.UPGRADE_PIP: "Upgrade pip",
    Step.TORCH: "Install PyTorch",
    Step.REQUIREMENTS: "Install the backend's packages",
    Step.HY3DGEN: "Install hy3dgen",
    Step.BACKEND: "Install the img23d backend",
    Step.VERIFY: "Start the backend",
}
# Rough share of the time each step takes, for one overall progress bar.
STEP_WEIGHTS = {Step.CREATE_VENV: 0.04, Step.UPGRADE_PIP: 0.04, Step.TORCH: 0.30, Step.REQUIREMENTS: 0.40,
                Step.HY3DGEN: 0.03, Step.BACKEND: 0.04, Step.VERIFY: 0.15}

Progress = Callable[[Step, float, str], None]   # (step, overall fraction 0..1, message)


class InstallError(Exception):
    """A step failed. The message names the step and where the full log is."""

    def __init__(self, step: Step, reason: str, log_path: Path) -> None:
        self.step, self.reason, self.log_path = step, reason, log_path
        super().__init__(f"{step.label} failed: {reason} (details in {log_path})")


class InstallCancelled(InstallError):
    def __init__(self, step: Step, log_path: Path) -> None:
        super().__init__(step, "cancelled", log_path)
        self.args = (f"Install cancelled during '{step.label}'; run it again to finish (log: {log_path})",)


@dataclass
class InstallResult:
    env: Path
    python: Path
    action: str                          # created, rebuilt or updated
    torch: TorchChoice
    torch_version: str
    device: str
    device_name: str | None
    log_path: Path
    seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what works less than it should (probe failures)

    host: str = ""                       # the SSH host it was installed on; "" for this computer

    def summary(self) -> str:
        where = self.device + (f" ({self.device_name})" if self.device_name else "")
        text = f"Backend {self.action}" + (f" on {self.host}" if self.host else "") + \
            f": torch {self.torch_version}, running on {where}"
        return text + "".join(f"; but {warning}" for warning in self.warnings)

    def to_json(self) -> dict[str, object]:
        """What an installer on another machine reports back (``remote_install`` reads it)."""
        return {"env": str(self.env), "python": str(self.python), "action": self.action,
                "torch": {"variant": self.torch.variant, "reason": self.torch.reason,
                          "packages": list(self.torch.packages), "index_url": self.torch.index_url},
                "torch_version": self.torch_version, "device": self.device, "device_name": self.device_name,
                "log_path": str(self.log_path), "seconds": self.seconds, "step_seconds": self.step_seconds,
                "warnings": self.warnings}


def install(target_env: Path, backend_source: Path, protocol_wheel: Path, *, python: Path | None = None,
            torch: TorchChoice,
            pip_args: list[str] | None = None, log_path: Path, progress: Progress | None = None,
            cancel: Callable[[], bool] | None = None, verify_timeout: float = VERIFY_TIMEOUT,
            family: str = protocol.DEFAULT_FAMILY, claimed: bool = False) -> InstallResult:
    """Create or repair the environment at ``target_env``; see the module's docstring. The model
    ``family``'s own packages (``img23d_protocol.ModelFamily.pip_packages``: hy3dgen, under Tencent's
    licence, for Hunyuan3D-2's) are installed for that family only: the licence-clean family never
    imports hy3dgen (an environment that has it keeps it). ``claimed``: ``target_env`` is img23d's own folder (the
    add-on's ``backend-env``), so a virtual environment there is the installer's even without its mark (one an
    installer from before the mark made); elsewhere only a marked one is (``env_health.made_by_img23d``)."""
    target = target_env.expanduser().absolute()
    if claimed and (target / "pyvenv.cfg").is_file() and not (target / MADE_BY_IMG23D).exists():
        mark_made(target)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Held before the log is opened: a second install truncated the first's log, then deleted its environment.
        with env_lock.held(target) as hold, CappedLog(log_path, truncate=True) as log:  # one log per install, capped
            run = _Run(target, backend_source, protocol_wheel, Path(python or sys.executable), torch,
                       list(pip_args or []), log, log_path, progress or (lambda *a: None), cancel or (lambda: False),
                       verify_timeout, family=protocol.model_family(family), hold=hold)
            return run.all_steps()
    except env_lock.LockRefused as exc:
        raise InstallError(Step.CREATE_VENV, str(exc), log_path) from None


class _Run:
    """One install: the steps in order, with the state they hand to each other."""

    def __init__(self, env: Path, source: Path, protocol_wheel: Path, python: Path, torch: TorchChoice,
                 pip_args: list[str], log: CappedLog, log_path: Path, progress: Progress, cancel: Callable[[], bool],
                 verify_timeout: float, family: protocol.ModelFamily | None = None, hold: tuple[int, ...] = ()) -> None:
        self.env, self.source, self.python, self.torch = env, source, python, torch
        self.family = family or protocol.model_family(protocol.DEFAULT_FAMILY)
        self.protocol_wheel = protocol_wheel
        self.pip_args, self.log, self.log_path = pip_args, log, log_path
        self.progress, self.cancel, self.verify_timeout = progress, cancel, verify_timeout
        self.hold = hold  # the install lock's descriptor, for every child to inherit (env_lock.held)
        self.env_python = env_python(env)
        self.step = Step.CREATE_VENV
        self.done_weight = 0.0
        self.step_seconds: dict[str, float] = {}
        self.health = EnvHealth(EnvState.MISSING)
        self.torch_version = ""
        self.warnings: list[str] = []

    def all_steps(self) -> InstallResult:
        started = time.monotonic()
        self._note(f"img23d backend install, {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n"
                   f"target: {self.env}\nbackend source: {self.source}\ninterpreter: {self.python}\n"
                   f"torch: {self.torch.reason} -> {' '.join(self.torch.pip_arguments())}\n"
                   f"extra pip arguments: {' '.join(self.pip_args) or '(none)'}")
        action = self._in_step(Step.CREATE_VENV, self._create_venv)
        self._in_step(Step.UPGRADE_PIP, lambda: self._pip("install", "--upgrade", PIP_MINIMUM))
        with tempfile.TemporaryDirectory(prefix="img23d-install-") as scratch:
            self._in_step(Step.TORCH, self._install_torch)
            constraints = self._pin_torch(Path(scratch))
            self._in_step(Step.REQUIREMENTS, lambda: self._pip(
                "install", "-r", str(self.source / "requirements.txt"), "-c", str(constraints)))
            packages = self.family.pip_packages
            self._in_step(Step.HY3DGEN, lambda: self._pip("install", "--no-deps", *packages) if packages else
                          self._note(f"hy3dgen not installed: the model family {self.family.name!r} does not use it"))
            self._in_step(Step.BACKEND, lambda: self._install_backend(Path(scratch)))
        hello = self._in_step(Step.VERIFY, self._verify)
        self.progress(Step.VERIFY, 1.0, "done")
        result = InstallResult(env=self.env, python=self.env_python, action=action, torch=self.torch,
                               torch_version=self.torch_version, device=str(hello.device),
                               device_name=hello.device_name, log_path=self.log_path,
                               seconds=round(time.monotonic() - started, 1), step_seconds=self.step_seconds,
                               warnings=self.warnings)
        self._note(result.summary() + f" ({result.seconds} s; by step: "
                   + ", ".join(f"{name} {seconds} s" for name, seconds in self.step_seconds.items()) + ")")
        return result

    # -- step plumbing -----------------------------------------------------------------------

    def _in_step(self, step: Step, body: Callable[[], object]) -> object:
        self.step = step
        if self.cancel():
            raise InstallCancelled(step, self.log_path)
        self._note(f"\n== {step.label} ==")
        self.progress(step, self.done_weight, step.label)
        started = time.monotonic()
        try:
            value = body()
        except Cancelled:
            self._note("cancelled by the user")
            raise InstallCancelled(step, self.log_path) from None
        except InstallError:
            raise
        except (OSError, ValueError, TimeoutError) as exc:
            self._note(f"failed: {exc}")
            raise InstallError(step, str(exc), self.log_path) from exc
        self.step_seconds[step.value] = round(time.monotonic() - started, 1)
        self.done_weight += STEP_WEIGHTS[step]
        return value

    def _note(self, text: str) -> None:
        try:
            self.log.write(text + "\n")
            self.log.flush()
        except OSError:
            pass  # a full disk: the step that meets it says so (its note raised past the step's own error)

    def _run(self, args: list[str], what: str) -> None:
        def on_line(line: str) -> None:
            # The lines that say what pip is doing now, for the progress message.
            if line.startswith(("Collecting", "Downloading", "Installing", "Building", "Successfully")):
                self.progress(self.step, self.done_weight, line[:120])

        code = run_logged(args, self.log, cancel=self.cancel, on_line=on_line, hold=self.hold)
        if code != 0:
            raise InstallError(self.step, f"{what} exited with code {code}", self.log_path)

    def _pip(self, *args: str) -> None:
        self._run([str(self.env_python), "-m", "pip", *args, *PIP_FLAGS, *self.pip_args], "pip")

    # -- the steps -------------------------------------------------------------------------

    def _create_venv(self) -> str:
        self.health = check_env(self.env, cancel=self.cancel, hold=self.hold)
        self._note(f"existing environment: {self.health.state.value}. {self.health.detail}")
        if self.health.state is EnvState.FOREIGN:
            raise InstallError(Step.CREATE_VENV, self.health.detail, self.log_path)  # it says what to do
        if self.health.state is EnvState.UNCHECKED:
            raise InstallError(Step.CREATE_VENV, f"the environment at {self.env} was kept as it is: "
                               f"{self.health.detail} (a busy computer or GPU?); close what uses them and press "
                               "Install again", self.log_path)
        if self.health.state is EnvState.HEALTHY:
            return "updated"
        action = "created"
        # The interpreter first: a Python out of range left no environment at all, the old one removed.
        self._note(f"interpreter: Python {check_interpreter(self.python)}")
        if self.health.state in (EnvState.BROKEN, EnvState.INCOMPLETE):
            self._note(f"rebuilding it: removing {self.env}")
            shutil.rmtree(self.env)  # a virtual environment the installer made (env_health.made_by_img23d)
            action = "rebuilt"
        # Marked first: an install cancelled or killed while venv runs leaves a folder the next one may rebuild.
        self.env.mkdir(parents=True, exist_ok=True)
        mark_made(self.env)
        self._run([str(self.python), "-m", "venv", str(self.env)], "python -m venv")
        if not self.env_python.is_file():
            raise InstallError(Step.CREATE_VENV, f"no interpreter at {self.env_python} after creating it",
                               self.log_path)
        return action

    def _install_torch(self) -> None:
        installed = self.health.torch_version
        cuda = (installed or "").partition("+")[2]
        # PyPI's Linux torch is a CUDA build without a label: kept too (from PyPI), as a +cu… one is from its index.
        pypi_cuda = cuda == "" and sys.platform.startswith("linux")
        if installed and self.torch.keeps_cuda and (cuda in CUDA_TAG_NAMES or pypi_cuda):
            self._note(f"keeping torch {installed}: {self.torch.reason}")
            self._pip("install", *self.torch.packages, *([] if pypi_cuda else ["--index-url", index_for(cuda)]))
            return
        if installed and not self.torch.matches(installed):
            # A healthy environment with another build (e.g. CPU, and now a driver is there): reinstalled in one
            # pip run, which downloads the new build before it removes the old (an uninstall first left no torch
            # when the download failed or was cancelled, and the next Repair rebuilt the whole environment).
            self._note(f"replacing torch {installed} with the {self.torch.variant} build")
            self._pip("install", "--force-reinstall", *self.torch.pip_arguments())
            return
        self._pip("install", *self.torch.pip_arguments())

    def _pin_torch(self, scratch: Path) -> Path:
        """A constraints file that keeps the torch just installed: later steps must not swap it."""
        code, output = capture([str(self.env_python), "-c",
                                "import importlib.metadata as m\n"
                                "for name in ('torch', 'torchvision'):\n"
                                "    try: print(name + '==' + m.version(name))\n"
                                "    except m.PackageNotFoundError: pass\n"], cwd=self.env, hold=self.hold)
        pins = [line.strip() for line in output.splitlines() if "==" in line]
        if code != 0 or not any(pin.startswith("torch==") for pin in pins):
            raise InstallError(Step.TORCH, f"torch is not installed after this step: {output.strip()[-300:]}",
                               self.log_path)
        self.torch_version = pins[0].split("==", 1)[1]
        constraints = scratch / "constraints.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        self._note("pinned: " + ", ".join(pins))
        return constraints

    def _install_backend(self, scratch: Path) -> None:
        # pip builds a folder in place (build/, *.egg-info); the add-on's folder may be read-only.
        copy = scratch / "backend"
        copy.mkdir()
        shutil.copytree(self.source / "img23d_backend", copy / "img23d_backend",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in ("pyproject.toml", "README.md", "requirements.txt"):
            if (self.source / name).is_file():
                shutil.copy2(self.source / name, copy / name)
        # The protocol first: the backend declares it, and it is the add-on's own wheel.
        self._pip("install", "--no-deps", "--force-reinstall", str(self.protocol_wheel))
        self._pip("install", "--no-deps", "--force-reinstall", str(copy))

    def _verify(self) -> object:
        """Run the backend's environment probes, then start it the way the add-on does and wait
        for its hello."""
        self._check_probes()

        with tempfile.TemporaryDirectory(prefix="img23d-verify-") as runs:
            settings = LaunchSettings(python=self.env_python, runs_dir=Path(runs), models="tiny", device="auto",
                                      offline=True, log_path=self.log_path)
            session = BackendSession(lambda: settings)
            self.log.flush()  # the backend appends its own log lines to the same file
            try:
                session.start()
                deadline = time.monotonic() + self.verify_timeout
                while session.state is State.STARTING:
                    session.pump()
                    if self.cancel():
                        raise Cancelled()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the backend did not answer within {self.verify_timeout:.0f} s")
                    time.sleep(0.1)
                hello, error = session.hello, session.error
            except protocol.ProtocolError as exc:
                raise InstallError(Step.VERIFY, exc.message, self.log_path) from exc
            finally:
                session.stop()
        if hello is None:
            raise InstallError(Step.VERIFY, error.splitlines()[0] if error else "the backend did not start",
                               self.log_path)
        self._note(f"backend {hello.version} started: device {hello.device} {hello.device_name or ''}")
        return hello

    def _check_probes(self) -> None:
        """The real models' environment probes (the tiny models the start below uses need fewer).

        A failure does not fail the install: the backend it built starts and runs the tiny models,
        and on some platforms no matching torchvision exists at all (a CPU torch whose only
        torchvision is a CUDA build), so a rebuild could not do better. It is the install's
        warning instead, in its result and its summary, and each job that needs the op names it."""
        outcome = run_probes(self.env_python, self.env, timeout=self.verify_timeout, cancel=self.cancel,
                             hold=self.hold)
        if not outcome.ran:
            raise InstallError(Step.VERIFY, f"the backend's environment probe did not run: {outcome.output}",
                               self.log_path)
        self._note(f"environment probes: {'passed' if outcome.ok else outcome.message}")
        if not outcome.ok:
            hint = (f" (this install chose: {self.torch.reason}; another PyTorch build in the preferences, "
                    "or --torch-build, may work)") if outcome.repairable else ""
            self.warnings.append(f"the real models cannot run here: {outcome.message}{hint}")
