"""What the batch driver and its workers pass each other: the workers' settings, a picture to make, its result.

Light on purpose (no model library): the driver plans, dispatches and records with these and never holds torch
(a Ray driver may run on a machine without a GPU); only a worker's ``work.Worker`` loads the models.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from img23d_protocol import JobOptions, RunLimits

from ..catalog import Models
from ..runs.folders import recover_interrupted

# What a run folder coming back from a Ray worker may hold (bigger is refused): it travels whole,
# in memory, through Ray's object store, so its bytes are held lower than an SSH import's.
RUN_LIMITS = RunLimits(max_files=20_000, max_bytes=4 << 30)


@dataclass
class WorkerSettings:
    models: Models
    out: Path | None          # the batch's folder, or None: run folders are sent back (Ray)
    threads: int | None = None  # torch threads per worker (None: torch's default)


@dataclass
class WorkItem:
    index: int                       # the entry's place in the batch
    image: str                       # the picture's path on the driver's machine
    names: list[str] | str | None
    options: JobOptions
    image_bytes: bytes | None = None  # the picture itself, for a worker without the driver's files
    views: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {side: picture on the driver's machine}
    view_bytes: dict[str, dict[str, bytes]] | None = None  # the views themselves, with image_bytes
    readers: int = 0o777             # the permission bits every sent file shares (their AND): copies keep them
    prompt: str = ""                 # the text the picture is made from (image is "" then), as generate --prompt


@dataclass
class WorkResult:
    index: int
    status: str                      # done, failed or cancelled
    seconds: float
    run_name: str | None = None      # the run folder's name
    run_dir: str | None = None       # where it is on the worker's machine
    files: dict[str, bytes] | None = field(default=None, repr=False)  # relative path -> bytes (sent back)
    error: dict[str, str] | None = None
    meshes: int = 0
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was made otherwise than asked (``result_notes``)
    worker: str = ""
    sha256: str | None = None        # of the picture's bytes as its job read them (its run's manifest)


def limit_threads(threads: int | None) -> None:
    """One worker, ``threads`` threads: set before torch (and OpenMP) start theirs."""
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(threads)


def worker_scratch_cleanup() -> None:
    """Remove the scratch folders of workers that died (killed mid-picture) on this machine."""
    import psutil

    for folder in Path(tempfile.gettempdir()).glob("img23d-batch-*-*"):
        try:
            pid = int(folder.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not psutil.pid_exists(pid):
            shutil.rmtree(folder, ignore_errors=True)


def recover(out: Path) -> list[Path]:
    """Close the manifests of runs whose worker died mid-picture (they say ``interrupted``)."""
    return recover_interrupted(out)

