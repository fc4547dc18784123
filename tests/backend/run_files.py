"""Run folders made in tests: a job's manifest, a two-object Generate run made by hand (the prints' tests), the
temporary files an atomic write leaves, and a tiny real disk to fill."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import trimesh

from img23d_backend.runs.folders import Manifest
from testdata import SOURCE_PYTHONPATH

TINY_DISK_TIMEOUT = 60   # seconds a script on the tiny disk may take


def manifest(**overrides) -> Manifest:
    values = dict(job_id="job-1", kind="generate", backend_version="0.1.0")
    values.update(overrides)
    return Manifest(**values)


MANIFESTS = Path(__file__).parents[1] / "wire" / "manifests"


def two_object_run(tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None = None,
                   chimney_mesh: str = "chimney.glb") -> Path:
    """A Generate run's folder as the job leaves it: its manifest (two placed objects, as main wrote them, passed
    through ``edit``) and a GLB for each (glTF is Y up: the house 1.08 tall, the chimney 1.19)."""
    data = json.loads((MANIFESTS / "main-f49deb6-generate.json").read_text(encoding="utf-8"))
    data["records"][1]["mesh"] = chimney_mesh
    if edit is not None:
        edit(data)
    run = tmp_path / "runs" / "20261122-100411-house_scene"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    trimesh.creation.box(extents=(1.2, 1.08, 1.2)).export(run / "house.glb")
    trimesh.creation.box(extents=(0.3, 1.19, 0.3)).export(run / "chimney.glb")
    return run


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
