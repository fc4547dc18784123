"""The command line run in the test's own process: ``commands.cli.main`` with its output captured.

For the tests whose subject is what a command says, writes or refuses, not the process (its exit code
under a signal, its stderr stream while it runs, a child process, a crash: those start
``python -m img23d_backend`` as before). No interpreter starts and nothing is imported again, so a
command costs its own work only.

A command run here shares the test process: ``run_cli`` sets the environment it is given for the
call alone and checks that the command left nothing behind it (the root logger's handlers and level,
the working folder, the environment, the signal handlers, ``sys.stdout`` and ``sys.stderr``), so that a
command which would leak into the next one, as it would for a user of the Python API, fails its test.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol

import pytest

from img23d_backend.commands import cli

# The signals a command's Ctrl-C handling takes over (env.interrupts) and must give back.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Set by a library on its first import in a process, the same each time: not a command's doing (torch's
# compiler its cache folder, OpenCV's loader the folder of its own libraries).
IMPORT_SET = frozenset({"TORCHINDUCTOR_CACHE_DIR", "LD_LIBRARY_PATH"})


@dataclass(frozen=True)
class CliRun:
    """What a command did: its exit code and what it printed, as ``subprocess.CompletedProcess`` names them."""

    returncode: int
    stdout: str
    stderr: str


class RunCli(Protocol):
    """``run_cli`` with its capture and environment given (the ``cli`` fixture, tests/backend/conftest.py)."""

    def __call__(self, *args: str | Path) -> CliRun: ...


def tiny_env(tiny_root: Path) -> dict[str, str]:
    """What ``backend_env`` gives a backend process that this process lacks: the tiny models' folder
    (offline, and one thread, are this test process's own already: tests/conftest.py, scripts/test.sh)."""
    return {"IMG23D_TINY_MODELS": str(tiny_root)}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path, env: Mapping[str, str] | None = None) -> CliRun:
    """``img23d_backend *args`` here, with ``env``'s variables set for the call alone."""
    capsys.readouterr()  # what the test printed before is not the command's
    before = _state()
    saved = {name: os.environ.get(name) for name in env or {}}
    os.environ.update(env or {})
    try:
        code = cli.main([str(arg) for arg in args])
    except SystemExit as exc:  # argparse's refusals and --help end so, as they end the process
        code = _exit_status(exc.code)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    said = capsys.readouterr()
    after = _state()
    left = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    if "environment" in left:
        was, now = left.pop("environment")
        changed = {name: (was.get(name), now.get(name)) for name in was.keys() | now.keys()
                   if was.get(name) != now.get(name) and name not in IMPORT_SET}
        left.update({"environment": changed} if changed else {})
    assert not left, f"the command left this behind it in the process (before, after): {left}"
    return CliRun(code, said.out, said.err)


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` gives a process (a message in place of a number: printed, and 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _state() -> dict[str, Any]:
    """What a command may change in its process and must give back."""
    root = logging.getLogger()
    return {"log handlers": list(root.handlers), "log level": root.level, "cwd": os.getcwd(),
            "environment": dict(os.environ), "signals": [signal.getsignal(s) for s in SIGNALS],
            "streams": (sys.stdout, sys.stderr)}
