"""Pressing Ctrl+C on a command-line process a test started: SIGINT and what it printed, and a kill
for a process that a failed wait would otherwise leave running."""

from __future__ import annotations

import signal
import subprocess
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def killed_if_left(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """``proc`` for the block; killed if it still runs when the block ends (a test that failed mid-wait)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()


def ctrl_c(proc: subprocess.Popen, timeout: float = 120.0) -> tuple[str, str]:
    """SIGINT to ``proc`` (Ctrl+C in its terminal), then its stdout and stderr once it ended within ``timeout`` s."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=timeout)
