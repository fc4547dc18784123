"""Large decimations in a worker process, so that the job's thread keeps running while the tail decimates.

fast-simplification holds Python's lock (the GIL) for the whole of a decimation: on the job's tail thread a
360,000-face mesh cut to 40,000 faces stopped the thread that drives the GPU for as long (0.5 s quiet, 1.6 s at a
load of 10 on a 2-core CPU; ``job_thread_longest_wait_s`` in bench/results/host-stages-cpu.json). In a worker
process the tail thread only waits on a pipe, which lets the GIL go: the job thread's longest wait in a whole
clean-up fell to 0.07 s at that load (the decimation alone: 0.01 s). What it costs, measured on the same mesh and machine: starting the worker, once per backend process
(``spawn``: a fork of a process that holds torch and CUDA threads is not safe), about 0.75 s at that load, on the
tail's thread; and carrying the arrays there and back, about 0.05 s a mesh. Meshes under ``WORKER_FACES`` decimate
in about a tenth of a second or less, so they stay in the calling process and no worker is started for them.

The worker stays for the life of the process and ends with it (``end_with_parent``). When it cannot be started,
dies, or does not answer in time, the decimation runs in the calling process instead, as it did before.
"""

from __future__ import annotations

import logging
from concurrent.futures import TimeoutError as FutureTimeout  # not the builtin one before 3.11
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

import numpy as np

from ..env.children import KeptWorker, end_with_parent
from ..env.interrupts import ignore_in_worker

log = logging.getLogger(__name__)

Arrays = tuple[np.ndarray, np.ndarray]

WORKER_FACES = 100_000   # meshes with fewer faces decimate here
BASE_SECONDS = 30.0      # how long a decimation in the worker may take, plus ...
SECONDS_PER_FACE = 1e-4  # ... this per face in (0.5 s for 360k faces on a 2-core CPU; 36 s allowed)



def worker_start() -> None:
    """First in the worker: end with the backend, and leave Ctrl-C and a hang-up to it."""
    end_with_parent()
    ignore_in_worker()


WORKER = KeptWorker(worker_start)  # the process's one decimation worker, started by the first large mesh


def decimate_apart(work: Callable[[np.ndarray, np.ndarray, int], Arrays], vertices: np.ndarray, faces: np.ndarray,
                   face_budget: int) -> Arrays:
    """``work(vertices, faces, face_budget)`` in the worker process when the mesh is large, else here.

    ``work`` must be a module-level function (it is sent to the worker by name)."""
    if len(faces) < WORKER_FACES:
        return work(vertices, faces, face_budget)
    vertices, faces = np.ascontiguousarray(vertices), np.ascontiguousarray(faces)
    try:
        future = WORKER.pool().submit(work, vertices, faces, face_budget)
        return future.result(timeout=BASE_SECONDS + SECONDS_PER_FACE * len(faces))
    except (OSError, BrokenProcessPool, FutureTimeout) as exc:
        log.warning("the decimation worker could not decimate %s faces (%s); decimating in the job's process",
                    f"{len(faces):,}", type(exc).__name__)
        WORKER.drop()
    return work(vertices, faces, face_budget)


def worker_pid() -> int | None:
    """The worker's process id, or None while there is none (for tests and diagnostics)."""
    return WORKER.pid()
