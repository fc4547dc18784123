"""The CPU tail of each target (clean-up, decimation, GLB writing) on a worker thread.

While the device decodes or paints target i + 1, the worker cleans or writes target i, so the
CPU work hides behind the device's. One worker keeps targets in order and the CPU free for
the main thread; at most ``MAX_PENDING`` tasks wait, so a slow tail holds back the device
instead of piling up meshes in memory. Waiting for a result checks for cancellation, and
leaving the ``with`` block drops tasks not yet started and waits for the one running, so a
cancelled job ends with no thread still writing into its run folder.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout  # not the builtin one before 3.11
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from ..env.job_control import CancelToken

T = TypeVar("T")

MAX_PENDING = 4          # tasks submitted and not finished
POLL_SECONDS = 0.05      # how often a wait looks at the cancel token
CLOSE_TIMEOUT = 120.0    # the longest a running task may take to finish when the job ends


@dataclass
class Timed(Generic[T]):
    """A task's value and the seconds the worker spent on it."""

    value: T
    seconds: float


class Tail:
    """One worker thread running the tail tasks of a job, in submission order."""

    def __init__(self, cancel: CancelToken, workers: int = 1) -> None:
        self._cancel = cancel
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="img23d-tail")
        self._room = threading.BoundedSemaphore(MAX_PENDING)
        self._tasks: dict[str, Future] = {}
        self._all: list[Future] = []

    def __enter__(self) -> "Tail":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def submit(self, key: str, task: Callable[[], T]) -> None:
        """Run ``task`` on the worker; its result is ``result(key)``. Blocks while the queue is full."""
        while not self._room.acquire(timeout=POLL_SECONDS):
            self._cancel.check()

        def timed() -> Timed[T]:
            started = time.perf_counter()
            try:
                return Timed(task(), time.perf_counter() - started)
            finally:
                self._room.release()

        self._tasks[key] = future = self._pool.submit(timed)
        self._all.append(future)

    def submitted(self, key: str) -> bool:
        return key in self._tasks

    def raise_failed(self) -> None:
        """Raise what a finished task raised (a full disk while writing a GLB), so that the job stops before its
        device starts the next target's work rather than after its last; tasks still running are not waited for."""
        for key, future in list(self._tasks.items()):
            if future.done() and not future.cancelled() and future.exception() is not None:
                self.result(key)

    def result(self, key: str) -> Timed[Any]:
        """The task's value (re-raising what it raised), waiting for it; raises if cancelled first."""
        future = self._tasks.pop(key)
        while True:
            self._cancel.check()
            try:
                return future.result(timeout=POLL_SECONDS)
            except FutureTimeout:
                continue

    def close(self) -> None:
        """Drop tasks not started; wait (bounded) for the running one."""
        for future in self._all:
            if future.cancel():
                self._room.release()  # a task that never ran never released its place
        self._tasks.clear()
        wait(self._all, timeout=CLOSE_TIMEOUT)
        self._pool.shutdown(wait=False)
        self._all.clear()
