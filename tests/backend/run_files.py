"""Run folders made in tests: a job's manifest, the temporary files an atomic write leaves, and a
tiny real disk to fill."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from img23d_backend.runs.folders import Manifest
from testdata import SOURCE_PYTHONPATH

TINY_DISK_TIMEOUT = 60   # seconds a script on the tiny disk may take


def manifest(**overrides) -> Manifest:
    values = dict(job_id="job-1", kind="generate", backend_version="0.1.0")
    values.update(overrides)
    return Manifest(**values)


def tmp_leftovers(root: Path) -> list[Path]:
    return sorted(root.rglob(".tmp-*"))


# What every script on the tiny disk starts with: this checkout's packages importable, and ``disk``
# (sys.argv[1]) a tmpfs of the size the caller gave, mounted in the script's own mount namespace.
_TINY_DISK_START = """import os, subprocess, sys
sys.path[0:0] = sys.argv[2].split(os.pathsep)
disk = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size={megabytes}m", "none", disk], check=True)
"""


def run_on_a_tiny_disk(tmp_path: Path, script: str, megabytes: int) -> subprocess.CompletedProcess:
    """Run ``script`` in a user and mount namespace (no root needed) on a tmpfs of ``megabytes`` MB:
    the script starts with ``disk``, the mounted folder, and this checkout's packages importable
    (``sys.argv[2]`` is their import path). Skips where this machine has no unprivileged mount
    namespace or cannot mount a tmpfs in one."""
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "--user", "--map-root-user", "--mount", "true"], capture_output=True) \
        if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no unprivileged mount namespace here to make a tiny real disk in")
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        proc = subprocess.run([unshare, "--user", "--map-root-user", "--mount", sys.executable, "-c",
                               _TINY_DISK_START.format(megabytes=megabytes) + script,
                               str(disk), SOURCE_PYTHONPATH], capture_output=True, text=True,
                              timeout=TINY_DISK_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the script on the tiny disk did not finish within {TINY_DISK_TIMEOUT} s")
    if proc.returncode != 0 and "mount" in proc.stderr and "Traceback" in proc.stderr and "tmpfs" in proc.stderr:
        pytest.skip(f"tmpfs cannot be mounted here: {proc.stderr[-300:]}")
    return proc
