"""The backend's worker processes end with it, however it ends.

The backend starts workers with multiprocessing's ``spawn`` (the UV unwrap's, ``uv/unwrap.py``;
Instant Meshes', ``finish/instant_meshes.py``), and with them multiprocessing's resource tracker.
Left alone, a worker outlives the backend: an idle ``ProcessPoolExecutor`` worker waits on its call
queue, whose writing end it holds itself, so it never reads end-of-file; and the resource tracker,
which ends once every holder of its pipe has closed it, stays as long as any worker (which inherits
that pipe) does. A dropped SSH link then left both on the GPU host for good.

Two sides, so that no way out is missed:

- ``end_with_parent()``, run first in each worker: on Linux the kernel sends it SIGKILL when the
  thread that started it ends (``PR_SET_PDEATHSIG``: at once, even while xatlas holds the GIL for
  seconds); everywhere, a thread waits on the parent's sentinel (a pipe only the parent holds on
  POSIX, its process handle on Windows) and ends the worker once it is gone, however it went
  (SIGKILL and the out-of-memory killer included). On Linux, then, a worker must be started by a
  thread that outlives its use (a job's thread, not a short-lived helper).
- ``end_children()``, on every way the service (``serve``) leaves (stdin closed, shutdown, SIGTERM,
  SIGHUP, a fatal error): its workers are terminated and reaped before it exits, rather than left
  to notice. (A batch's driver does not call it: its workers close their pictures themselves.)

Once the workers are gone the resource tracker reads end-of-file and ends by itself: its cause is
fixed, it is not killed.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import wait
from typing import Any, Callable

PR_SET_PDEATHSIG = 1     # linux/prctl.h
TERMINATE_WAIT_SECONDS = 2.0  # how long a terminated worker may take before it is killed
KILL_WAIT_SECONDS = 5.0  # how long a killed worker may take to go
ORPHAN_EXIT_CODE = 70    # a worker whose parent went (EX_SOFTWARE: nobody reads it, a log might)


def end_with_parent() -> None:
    """In a worker started by ``spawn``: end this process as soon as its parent is gone. Does
    nothing in a process that multiprocessing did not start."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
        if os.getppid() != parent.pid:  # the parent went before the request above: nobody would send it
            os._exit(ORPHAN_EXIT_CODE)
    threading.Thread(target=_watch_parent, args=(parent.sentinel,), name="img23d-parent-watch",
                     daemon=True).start()


def _watch_parent(sentinel: int) -> None:
    wait([sentinel])
    # The parent is gone: nothing this worker makes can reach anyone. os._exit, not sys.exit:
    # the main thread may be inside a C call, and nothing here needs cleaning.
    os._exit(ORPHAN_EXIT_CODE)


def end_children(timeout: float = TERMINATE_WAIT_SECONDS) -> list[int]:
    """Terminate this process's multiprocessing children, kill those still there after ``timeout``,
    and reap them all; the process ids it ended (for the log)."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join(timeout)
    return [child.pid for child in children if child.pid is not None]



def kill_pool(pool: Any) -> None:
    """Kill a ``ProcessPoolExecutor``'s workers (one may be stuck in a call), reap them and shut the pool down.
    The executor has no public way to end a busy worker before Python 3.14 (``kill_workers``): its process table
    is read, as 3.14's method does."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.kill()
    for process in processes:
        process.join(KILL_WAIT_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)


class KeptWorker:
    """One spawned worker process kept for the life of this one, started by its first use (``pool``); ``drop``
    kills it (it may be stuck) and forgets it, and the next use starts another, with the environment of then.
    ``initializer`` runs first in the worker (``end_with_parent`` among what it does)."""

    def __init__(self, initializer: Callable[[], None]) -> None:
        self._initializer = initializer
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=self._initializer)
            return self._pool

    def drop(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            kill_pool(pool)

    def pid(self) -> int | None:
        """The worker's process id, or None while there is none (for tests and diagnostics)."""
        pool = self._pool
        processes = list((getattr(pool, "_processes", None) or {}).values()) if pool is not None else []
        return processes[0].pid if processes else None
