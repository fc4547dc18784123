"""Is an existing backend environment usable, repairable in place, or to be built anew?"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

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
    FOREIGN = "foreign"          # a folder that is not a virtual environment: never touched


@dataclass(frozen=True)
class EnvHealth:
    state: EnvState
    detail: str = ""
    torch_version: str | None = None


def env_python(env: Path) -> Path:
    """The interpreter of the virtual environment at ``env``."""
    return env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def check_env(env: Path, timeout: float = 180.0) -> EnvHealth:
    """Look at ``env`` without changing it."""
    if not env.exists() or (env.is_dir() and not any(env.iterdir())):
        return EnvHealth(EnvState.MISSING)
    if not (env / "pyvenv.cfg").is_file():
        return EnvHealth(EnvState.FOREIGN, f"{env} exists and is not a Python virtual environment")
    python = env_python(env)
    if not python.is_file():
        return EnvHealth(EnvState.BROKEN, f"{python} is missing")
    code, output = capture([str(python), "-c", "import sys; print(sys.version)"], cwd=env, timeout=60)
    if code != 0:
        return EnvHealth(EnvState.BROKEN, f"its python does not start: {_last_line(output)}")
    # cwd=env: python -c puts the working folder first on sys.path; no stray package may answer.
    code, output = capture([str(python), "-c", "import img23d_backend, torch; print(torch.__version__)"],
                           cwd=env, timeout=timeout)
    if code != 0:
        return EnvHealth(EnvState.INCOMPLETE, f"the backend does not import: {_last_line(output)}")
    return EnvHealth(EnvState.HEALTHY, "the backend and torch import", torch_version=output.strip().splitlines()[-1])


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
