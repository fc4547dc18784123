"""Is an existing backend environment usable, repairable in place, or to be built anew?

The test is the backend's own: ``python -m img23d_backend probe --models default --json`` runs
every environment probe the real models need (torch on the device, torchvision's compiled
ops, see the backend's ``env_probe``) and prints one JSON report. The add-on never imports the
backend; it reads ``ok``, ``repairable``, ``message`` and ``torch`` from that report.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable

from .commands import capture

# backend/requirements.txt has wheels for these interpreters (numpy 1.26.4 up to 3.12, 2.2.6 on 3.13);
# Blender 4.2 to 5.0 ship Python 3.11, Blender 5.1 and 5.2 ship 3.13.
SUPPORTED_PYTHONS = ((3, 10), (3, 13))
# How a user picks another interpreter to build on, named in the message when theirs is out of range.
OTHER_INTERPRETER_HINT = ("choose a Python {low} to {high} to build it on: the add-on's preference "
                          "'Python for Install', or --python on the installer's command line")


class EnvState(str, Enum):
    MISSING = "missing"          # nothing there yet: create it
    BROKEN = "broken"            # its python does not run (e.g. the interpreter it was made from moved)
    INCOMPLETE = "incomplete"    # python runs, but the backend or torch does not import
    HEALTHY = "healthy"          # runs and imports: only missing packages are added
    FOREIGN = "foreign"          # not a virtual environment, or one img23d did not make: never touched
    UNCHECKED = "unchecked"      # its checks did not finish (a busy machine or GPU): kept as it is


# Written into every environment the installer makes, first thing: only such an environment is the installer's to
# rebuild or update. Another venv given as the target was deleted with everything in it, even one holding img23d's
# own packages (a studio pipeline's, with the protocol installed). An older installer's environment without it: the
# add-on's own backend-env is marked when installed into (install's ``claimed``); elsewhere its user adds the file.
MADE_BY_IMG23D = "img23d-environment.txt"
NEW_FOLDER = "choose an empty or new folder"
PROBE_ARGS = ("-m", "img23d_backend", "probe", "--models", "default", "--json")
# What a backend from before the probe command can be asked instead (argparse: "invalid choice").
LEGACY_CHECK = "import img23d_backend, torch; print(torch.__version__)"


@dataclass(frozen=True)
class ProbeOutcome:
    """The probe command's verdict, as far as the installer needs it."""

    ran: bool                    # it printed its report (False: the backend does not even import)
    ok: bool = False
    repairable: bool = False     # a failure that reinstalling torch/torchvision can fix
    message: str = ""            # the backend's own words (what failed, which versions, what to do)
    torch_version: str | None = None
    output: str = ""             # the last line of output when it did not run


@dataclass(frozen=True)
class EnvHealth:
    state: EnvState
    detail: str = ""
    torch_version: str | None = None


def env_python(env: Path) -> Path:
    """The interpreter of the virtual environment at ``env``."""
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def check_env(env: Path, timeout: float = 180.0, cancel: Callable[[], bool] | None = None,
              hold: tuple[int, ...] = ()) -> EnvHealth:
    """Look at ``env`` without changing it (``cancel`` and ``hold``: as ``commands.capture`` takes them)."""
    if not env.exists() or (env.is_dir() and not any(env.iterdir())):
        return EnvHealth(EnvState.MISSING)
    if not (env / "pyvenv.cfg").is_file():
        if (env / MADE_BY_IMG23D).is_file():  # begun by the installer, cut short before venv wrote its config
            return EnvHealth(EnvState.BROKEN, f"{env} is an environment the installer began and did not finish")
        return EnvHealth(EnvState.FOREIGN, f"{env} exists and is not a Python virtual environment: {NEW_FOLDER}")
    if not made_by_img23d(env):
        return EnvHealth(EnvState.FOREIGN, _not_marked(env))
    python = env_python(env)
    if not python.is_file():
        return EnvHealth(EnvState.BROKEN, f"{python} is missing")
    code, output = capture([str(python), "-c", "import sys; print(sys.version)"], cwd=env, timeout=60, cancel=cancel,
                           hold=hold)
    if code != 0:
        return EnvHealth(EnvState.BROKEN, f"its python does not start: {_last_line(output)}")
    outcome = run_probes(python, env, timeout, cancel, hold)
    if not outcome.ran:
        if "invalid choice: 'probe'" in outcome.output:
            return _legacy_check(python, env, timeout, hold)
        if outcome.output.startswith("TimeoutExpired"):  # slow, not broken: a rebuild cannot make it faster
            return EnvHealth(EnvState.UNCHECKED, f"its checks did not finish within {timeout:.0f} s")
        return EnvHealth(EnvState.INCOMPLETE, f"the backend does not import: {outcome.output}")
    if not outcome.ok and outcome.repairable:
        # Rebuilt from scratch like an environment that does not import: reinstalling torch and
        # torchvision together is what makes their compiled ops match again.
        return EnvHealth(EnvState.INCOMPLETE, f"the backend's environment probes failed: {outcome.message}",
                         torch_version=outcome.torch_version)
    detail = "the backend imports and its environment probes pass"
    if not outcome.ok:  # e.g. an op this device type has no kernel for: reinstalling would not help
        detail = f"the backend imports; a probe found a limit of this device: {outcome.message}"
    return EnvHealth(EnvState.HEALTHY, detail, torch_version=outcome.torch_version)


def mark_made(env: Path) -> None:
    """Mark ``env`` as the installer's (``MADE_BY_IMG23D``): a folder it may rebuild."""
    (env / MADE_BY_IMG23D).write_text("made by img23d's installer: Install Backend may rebuild it\n", encoding="utf-8")


def made_by_img23d(env: Path) -> bool:
    """Whether the virtual environment ``env`` is one the installer made: its mark (img23d's packages in it are not:
    anyone may install those)."""
    return (env / MADE_BY_IMG23D).is_file()


def _not_marked(env: Path) -> str:
    """Why the unmarked virtual environment ``env`` is left alone, and what its user can do."""
    if any(env.glob("lib/python3*/site-packages/img23d_*.dist-info")) or \
            any(env.glob("Lib/site-packages/img23d_*.dist-info")):
        return (f"{env} holds img23d's packages but not the installer's mark {MADE_BY_IMG23D}, so it may be another "
                f"program's environment: if img23d's installer made it (one from before the mark), add an empty file "
                f"{MADE_BY_IMG23D} to it and install again; otherwise {NEW_FOLDER}")
    return f"{env} is a virtual environment img23d did not make (it has no {MADE_BY_IMG23D}): {NEW_FOLDER}"


def run_probes(python: Path, env: Path, timeout: float = 180.0,
               cancel: Callable[[], bool] | None = None, hold: tuple[int, ...] = ()) -> ProbeOutcome:
    """Run the backend's probe command with the environment's ``python`` and read its report."""
    # cwd=env: python puts the working folder first on sys.path; no stray package may answer.
    code, output = capture([str(python), *PROBE_ARGS], cwd=env, timeout=timeout, cancel=cancel, hold=hold)
    report = _last_report(output)
    if report is None:
        return ProbeOutcome(ran=False, output=_last_line(output) if code != 0 else "the probe printed no report")
    failed = [result for result in report.get("results", []) if isinstance(result, dict) and not result.get("ok")]
    torch_version = report.get("torch")
    return ProbeOutcome(ran=True, ok=bool(report.get("ok")) and code == 0,
                        repairable=any(bool(result.get("repairable")) for result in failed),
                        message=str(report.get("message") or ""),
                        torch_version=torch_version if isinstance(torch_version, str) else None)


def _last_report(output: str) -> dict | None:
    """The probe's JSON line; torch and friends may log other lines around it."""
    for line in reversed(output.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "ok" in data:
                return data
    return None


def _legacy_check(python: Path, env: Path, timeout: float, hold: tuple[int, ...] = ()) -> EnvHealth:
    """A backend installed before the probe command: does it import, with torch?"""
    code, output = capture([str(python), "-c", LEGACY_CHECK], cwd=env, timeout=timeout, hold=hold)
    if code != 0:
        return EnvHealth(EnvState.INCOMPLETE, f"the backend does not import: {_last_line(output)}")
    return EnvHealth(EnvState.HEALTHY, "the backend and torch import (a backend without environment probes)",
                     torch_version=output.strip().splitlines()[-1])


def check_interpreter(python: Path, timeout: float = 60.0) -> str:
    """The version of ``python`` if it can make virtual environments; raises ``ValueError`` saying why not."""
    code, output = capture([str(python), "-c", "import sys, venv, ensurepip; print('%d.%d.%d' % sys.version_info[:3])"],
                           timeout=timeout)
    if code != 0:
        raise ValueError(f"{python} cannot create virtual environments ({_last_line(output)}); on Debian or "
                         "Ubuntu install python3-venv, or choose another Python")
    version = output.strip().splitlines()[-1]
    major_minor = tuple(int(part) for part in version.split(".")[:2])
    low, high = SUPPORTED_PYTHONS
    if not low <= major_minor <= high:
        span = {"low": f"{low[0]}.{low[1]}", "high": f"{high[0]}.{high[1]}"}
        raise ValueError(f"{python} is Python {version}; the backend's packages need Python "
                         f"{span['low']} to {span['high']}: " + OTHER_INTERPRETER_HINT.format(**span))
    return version


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
