"""UV unwrapping in a worker process, ahead of the paint stage that needs it.

The paint stage's unwrap is ``box_unwrap`` (box projection, cut and packed by img23d: several times
faster than xatlas's defaults, and as good: that module says why); the finish's bake asks for an atlas
packed for a known texture size (``AtlasPacking``) and gets xatlas's, as before. Either holds the GIL
for most of its time (xatlas for seconds on a 40k-face mesh, the box unwrap for a good part of a
second), so on a thread it would stall the job's own thread (and the device it drives) as much as
running it inline. A textured generate job
hands every cleaned mesh without UVs to one worker process as soon as it has them; the paint
stage of target i then takes its unwrap ready-made while the worker is already unwrapping
target i + 1, behind the device's delighting and painting of target i.

The worker is started with ``spawn`` (a fork of a process that holds torch and CUDA threads is
not safe) and imports only numpy, scipy and xatlas; it ends with the backend, however the backend ends
(``env.children``). It stays for the life of the process, as the decimator's does (``mesh/decimator.py``): each
job used to start its own and wait for its imports, about 1.2 CPU-seconds and, on a busy 2-core CPU, a second or
two of the paint stage (the first unwrap waits on them). When the worker cannot be used (it failed to start
or died), the unwrap runs in the job's process, as before, and the log says so: the result is
the same, only the overlap is lost.

An unwrap cannot be stopped from outside (xatlas is C++), so the worker is killed instead (as Instant Meshes' is,
``finish/instant_meshes.py``): when the job is cancelled while it waits for an unwrap, when an
unwrap runs past its time (``time_limit``: generous, in proportion to the faces; the job then
ends with one sentence, not falling back to the same hang in its own process), and when the
``with`` block is left with an unwrap still running. A busy worker left running would keep the
process alive at exit: the interpreter's shutdown waits for a pool's workers. The next unwrap starts another.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout  # not the builtin one before 3.11
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

import numpy as np

from img23d_protocol import ErrorCode, ProtocolError

from ..env import failpoints
from ..env.children import KeptWorker, end_with_parent
from ..env.interrupts import ignore_in_worker
from ..env.job_control import CancelToken
from .box_unwrap import box_unwrap

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05  # how often a wait looks at the cancel token
# An unwrap's time: xatlas took a few seconds for 40,000 faces on one CPU core (about 0.1 ms a face), the box
# unwrap a second; the bound allows over ten times xatlas's, and a start-up's worth besides.
BASE_SECONDS = 120.0
SECONDS_PER_FACE = 0.002
SMALLEST, LARGEST = 0.1, 1000.0   # units across: meshes outside are unwrapped at one unit (``_within_reach``)

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # vertices, faces, uv: the seams split


@dataclass(frozen=True)
class AtlasPacking:
    """Charts packed for a known texture size, with a gutter between them (a bake dilates into it)."""

    resolution: int  # texels on a side of the texture the UVs are for
    padding: int  # texels left free around each chart


def unwrap_arrays(vertices: np.ndarray, faces: np.ndarray, packing: AtlasPacking | None = None) -> Arrays:
    """An unwrap: vertices split along the seams, their faces (in the order given, each with its corners in
    their order), one UV per vertex in [0, 1].

    Without ``packing``, the paint stage's: ``box_unwrap``. With it, xatlas's, its charts packed at
    ``packing.resolution`` with ``packing.padding`` texels around each (the finish's bake)."""
    if packing is None:
        mapping, new_faces, uv = box_unwrap(vertices, faces)
    else:
        import xatlas

        atlas = xatlas.Atlas()
        atlas.add_mesh(_within_reach(np.asarray(vertices, dtype=np.float64)).astype(np.float32),
                       np.asarray(faces, dtype=np.uint32))
        options = xatlas.PackOptions()
        options.resolution = packing.resolution
        options.padding = packing.padding
        atlas.generate(pack_options=options)
        mapping, new_faces, uv = atlas[0]
    return (np.asarray(vertices, dtype=np.float64)[mapping], np.asarray(new_faces, dtype=np.int64),
            np.asarray(uv, dtype=np.float64))


def _within_reach(positions: np.ndarray) -> np.ndarray:
    """``positions`` as xatlas may read them: a mesh under ``SMALLEST`` or over ``LARGEST`` units across is
    scaled to one unit about its centre (the UVs are the same shape at any scale), others as they are, as hy3dgen
    unwraps its meshes. xatlas's own tolerances are in units: a mesh a millimetre across got NaN UVs, and a
    centimetre's a tenth of the texels it would have had."""
    if not len(positions):
        return positions
    low, high = positions.min(axis=0), positions.max(axis=0)
    size = float((high - low).max())
    if SMALLEST <= size <= LARGEST or size == 0.0:
        return positions
    return (positions - (low + high) / 2) / size


def time_limit(faces: int) -> float:
    """Seconds an unwrap of ``faces`` faces may take before its worker is killed."""
    return BASE_SECONDS + SECONDS_PER_FACE * faces


def worker_start() -> None:
    """First in the unwrap worker: end with the job's process, and ignore Ctrl-C and a hang-up. The terminal sends
    them to the whole process group; the job's process turns them into a cancel and kills this worker, so the
    worker's own KeyboardInterrupt would only print a traceback in the middle of the paint step."""
    end_with_parent()
    ignore_in_worker()


WORKER = KeptWorker(worker_start)  # the process's one unwrap worker, started by the first unwrap


def _in_worker(work: Callable[..., Arrays], *args: Any) -> Arrays:
    """What the worker runs: ``work``, after the ``unwrap.worker`` failpoint (a test's hang, here)."""
    failpoints.hit("unwrap.worker")
    return work(*args)


class Unwrapper:
    """A job's meshes unwrapped in the order they were submitted, on the process's worker."""

    def __init__(self, cancel: CancelToken, work: Callable[[np.ndarray, np.ndarray], Arrays] = unwrap_arrays,
                 limit: Callable[[int], float] = time_limit) -> None:
        self._cancel = cancel
        self._work = work
        self._limit = limit
        self._tasks: dict[str, tuple[Future | None, np.ndarray, np.ndarray, AtlasPacking | None]] = {}

    def __enter__(self) -> "Unwrapper":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def submit(self, key: str, vertices: np.ndarray, faces: np.ndarray, packing: AtlasPacking | None = None) -> None:
        """Start unwrapping on the worker; ``result(key)`` gives it back."""
        vertices, faces = np.ascontiguousarray(vertices), np.ascontiguousarray(faces)
        future = None
        try:
            extra = () if packing is None else (packing,)
            future = WORKER.pool().submit(_in_worker, self._work, vertices, faces, *extra)
        except (OSError, RuntimeError, BrokenProcessPool) as exc:  # no worker: unwrap when asked, here
            log.warning("the UV worker could not take %s (%s); it will be unwrapped in the job's process", key, exc)
            WORKER.drop()  # the next unwrap tries a new one
        self._tasks[key] = (future, vertices, faces, packing)

    def submitted(self, key: str) -> bool:
        return key in self._tasks

    def result(self, key: str) -> Arrays:
        """The unwrap of ``key``, waiting for the worker (and for nothing once cancelled: the worker
        is killed). ``ProtocolError(bad_request)`` when it ran past ``time_limit`` (the worker killed)."""
        future, vertices, faces, packing = self._tasks.pop(key)
        limit = self._limit(len(faces))
        deadline = time.monotonic() + limit
        while future is not None:
            if self._cancel.cancelled:
                WORKER.drop()
                self._cancel.check()
            if time.monotonic() > deadline:
                WORKER.drop()
                raise ProtocolError(ErrorCode.BAD_REQUEST,
                                    f"the UV unwrap of {len(faces):,} faces did not end within {limit:,.0f} s, so "
                                    "its worker was stopped; a mesh with UVs of its own, or with fewer faces, "
                                    "needs no such unwrap")
            try:
                return future.result(timeout=POLL_SECONDS)
            except FutureTimeout:
                continue
            except BrokenProcessPool as exc:  # the worker died: what it held is done here instead
                log.warning("the UV worker stopped (%s); unwrapping %s in the job's process", exc, key)
                WORKER.drop()  # the next unwrap starts a new one
                break
        return unwrap_arrays(vertices, faces, packing)

    def close(self) -> None:
        """Drop what has not started; an unwrap still running is killed with the worker."""
        futures = [future for future, *_ in self._tasks.values() if future is not None]
        self._tasks.clear()
        if any(not future.cancel() and not future.done() for future in futures):  # one is running
            WORKER.drop()
