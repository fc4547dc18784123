"""Pressing Ctrl+C on a command-line process a test started: SIGINT and what it printed, a kill for a
process that a failed wait would otherwise leave running, and its stderr read line by line on a thread
(``wait_for_line``, ``rest_of_stderr``) so a test can signal it at a known point with a deadline on every wait;
``wait_for_torch`` for a signal during its start-up, and ``stopped_during_start_up``: what every command must do
with one."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def killed_if_left(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """``proc`` for the block; killed if it still runs when the block ends (a test that failed mid-wait)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()


def wait_for_torch(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until ``proc`` maps torch's library: its start-up, long before a job exists; fails if it ends first or takes
    longer than ``timeout`` s."""
    import psutil

    deadline = time.monotonic() + timeout
    while not any("libtorch" in mapped.path for mapped in psutil.Process(proc.pid).memory_maps()):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "torch was never loaded"
        time.sleep(0.02)


def ctrl_c(proc: subprocess.Popen, timeout: float = 120.0) -> tuple[str, str]:
    """SIGINT to ``proc`` (Ctrl+C in its terminal), then its stdout and stderr once it ended within ``timeout`` s."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=timeout)


def stopped_during_start_up(proc: subprocess.Popen, runs: Path) -> None:
    """Ctrl+C to ``proc`` while it imports the engine, long before a job exists: it ends with 130 and the one line
    that says so, no traceback, and nothing in its runs folder ``runs``."""
    with killed_if_left(proc):
        wait_for_torch(proc)
        _, err = ctrl_c(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "SIGINT: stopped before the job started; nothing was written" in err, err
    assert not runs.exists() or list(runs.iterdir()) == [], list(runs.iterdir())


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 120) -> list[str]:
    """stderr lines up to the first containing ``needle``; fails naming what came instead. The rest stays
    readable with ``rest_of_stderr``."""
    lines: "queue.Queue[str | None]" = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line with {needle!r} within {timeout:g} s; stderr: {''.join(seen)[-2000:]}")
        if line is None:
            raise AssertionError(f"the process ended before {needle!r}; stderr: {''.join(seen)[-2000:]}")
        seen.append(line)
        if needle in line:
            proc.stderr_rest = lines  # type: ignore[attr-defined]
            return seen


def rest_of_stderr(proc: subprocess.Popen, timeout: float = 30) -> str:
    """stderr after ``wait_for_line``'s line, to the process's end (each line within ``timeout``)."""
    rest, lines = [], proc.stderr_rest  # type: ignore[attr-defined]
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"stderr said nothing more for {timeout:g} s: {''.join(rest)[-2000:]}") from None
        if line is None:
            return "".join(rest)
        rest.append(line)
