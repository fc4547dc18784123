"""Running the installer's child processes (venv, pip, the environment's python): output into
the install log, never onto Blender's console, and killed at once when the user cancels. ``hold``: descriptors
each child inherits (the install lock's, ``env_lock.held``), so that the lock lives while the child does."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Callable

import img23d_protocol as protocol

from img23d_client.capped_log import CappedLog

POLL_SECONDS = 0.2
OUTPUT_LINE_BYTES = 64 * 1024   # a longer output line (a host printing without end) is dropped, never held
OUTPUT_QUEUED = 1000            # lines read ahead of the log: past that the reader, and the command, wait


class Cancelled(Exception):
    """The user cancelled while a command ran; the command was killed."""


def child_environment() -> dict[str, str]:
    """The environment for another interpreter: without what points at this one."""
    env = dict(os.environ)
    # Blender (or an activated venv) may set these for its own Python; they break another one.
    for name in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "VIRTUAL_ENV",
                 "__PYVENV_LAUNCHER__", "PYTHONUSERBASE"):
        env.pop(name, None)
    env["PYTHONNOUSERSITE"] = "1"   # packages in the user's site folder must not satisfy pip
    env["PIP_NO_INPUT"] = "1"       # pip must never wait for an answer nobody can type
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"   # pip's lines arrive as they are printed: live progress messages
    return env


def run_logged(args: list[str], log: CappedLog, *, cancel: Callable[[], bool],
               on_line: Callable[[str], None] | None = None, cwd: Path | None = None,
               timeout: float | None = None, feed: bytes | None = None, shown: str | None = None,
               hold: tuple[int, ...] = ()) -> int:
    """Run ``args`` with its output appended to ``log``; return its exit code.

    ``feed``: bytes written to its input, which then stays open until it ends (an installer over
    ssh reads the end of its input as the user's cancel). ``shown``: the command as the log shows it.
    Raises ``Cancelled`` (after killing it) when ``cancel()`` turns true, ``TimeoutError``
    (after killing it) past ``timeout`` seconds, ``OSError`` when it cannot start.
    """
    log.write(f"$ {shown or ' '.join(args)}\n")
    log.flush()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=child_environment(), cwd=str(cwd) if cwd else None, **_own_process_group(hold))
    lines: "queue.Queue[bytes | None]" = queue.Queue(maxsize=OUTPUT_QUEUED)
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), name="img23d-install-output", daemon=True)
    reader.start()
    if feed is not None:
        threading.Thread(target=_feed, args=(proc.stdin, feed), name="img23d-install-input", daemon=True).start()
    started = time.monotonic()
    try:
        while True:
            try:
                raw = lines.get(timeout=POLL_SECONDS)
            except queue.Empty:
                raw = b""
            if raw is None:  # output closed: the process is done, or nearly
                break
            if raw:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                log.write(text + "\n")
                if on_line is not None:
                    on_line(text)
            if cancel():
                raise Cancelled()
            if timeout is not None and time.monotonic() - started > timeout:
                raise TimeoutError(f"{Path(args[0]).name} did not finish within {timeout:.0f} s")
        return proc.wait()
    except BaseException:
        _kill(proc)
        raise
    finally:
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass  # it ended first: nothing left to tell it
        reader.join(timeout=5)
        log.flush()


def _feed(stream: IO[bytes] | None, data: bytes) -> None:
    assert stream is not None
    try:
        stream.write(data)
        stream.flush()
    except (OSError, ValueError):
        pass  # it ended (or was killed) before reading it all: its exit code says why


def _pump(stream: IO[bytes] | None, lines: "queue.Queue[bytes | None]") -> None:
    assert stream is not None
    for line in protocol.bounded_lines(stream, OUTPUT_LINE_BYTES):
        if isinstance(line, protocol.OverlongLine):
            line = f"(an output line of {line.size} bytes was dropped)".encode()
        lines.put(line)
    lines.put(None)


def _own_process_group(hold: tuple[int, ...] = ()) -> dict[str, object]:
    # pip starts its own children (builds); a group lets cancel stop them along with pip.
    if sys.platform == "win32":  # no descriptors to pass on there (env_lock's lock is the installer's alone)
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
    # A session of its own also outlives an installer killed outright: the lock it inherits (hold) outlives it too.
    return {"start_new_session": True, "pass_fds": hold}


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    if sys.platform != "win32":
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this process leads: pip and its builds
        except (ProcessLookupError, PermissionError):
            proc.kill()
    else:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def capture(args: list[str], *, cwd: Path | None = None, timeout: float = 120.0,
            cancel: Callable[[], bool] | None = None, hold: tuple[int, ...] = ()) -> tuple[int, str]:
    """Run a short check and return (exit code, output). Exit code -1: could not run at all, or ran past
    ``timeout`` (its output then starts "TimeoutExpired"). ``cancel``: looked at while it runs; once true, the
    check is killed and ``Cancelled`` raised (the environment's checks run minutes, and Cancel waited them out)."""
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=child_environment(), cwd=str(cwd) if cwd else None, **_own_process_group(hold))
    except (OSError, subprocess.SubprocessError) as exc:
        return -1, f"{type(exc).__name__}: {exc}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            output, _ = proc.communicate(timeout=max(0.01, min(POLL_SECONDS, deadline - time.monotonic())))
            return proc.returncode, output.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel():
                _kill(proc)
                raise Cancelled() from None
            if time.monotonic() > deadline:
                _kill(proc)
                return -1, f"TimeoutExpired: {Path(args[0]).name} did not finish within {timeout:.0f} s"
