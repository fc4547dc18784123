"""Removing a large test folder without waiting for it: the test run goes on meanwhile."""

from __future__ import annotations

import subprocess
from pathlib import Path


def remove_in_background(folder: Path) -> None:
    """Start removing ``folder`` (``rm -rf``) and return at once.

    For the folders a session leaves at its end that hold tens of thousands of files (the SSH
    host's hard-linked environments, the environment the real Install Backend made): removing them
    took seconds to minutes of the lane, and the lane's next pytest run can start meanwhile. A shell
    leaves rm in the background and ends, so nothing of the calling process is left running."""
    subprocess.run(["sh", "-c", 'rm -rf -- "$1" </dev/null >/dev/null 2>&1 &', "sh", str(folder)], check=True,
                   timeout=30)
