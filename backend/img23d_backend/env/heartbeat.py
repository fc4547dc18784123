"""A long step keeps talking: while a stage's work keeps this process (or its workers) busy, a
heartbeat says so every ``interval`` seconds (the stage, the seconds so far), so the add-on's
no-progress watchdog (600 s) stops only a backend that is truly stuck.

"Busy" is read from CPU time, this process's and its live children's (the UV unwrap's worker,
Instant Meshes'): a step that computes, on the CPU or waiting on a GPU (CUDA's synchronisation
spins a CPU thread), uses CPU time; a backend stuck on a lock, a dead pipe or a sleeping
failpoint uses none, says nothing and is stopped by the watchdog as before. On a 2-core machine
shared with other work, one bake step outlasted the watchdog: that is what this is for.

``IMG23D_HEARTBEAT_SECONDS`` sets the interval (tests use about a second). The CPU time is read by
``busy_time`` (psutil's), passed in: this module is standard library alone, because the command
line reads the interval before any third-party package may load.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

ENV = "IMG23D_HEARTBEAT_SECONDS"
INTERVAL_SECONDS = 60.0      # a tenth of the watchdog's 600 s: ten chances before it would fire
MIN_CPU_SHARE = 0.05         # CPU seconds per second of the interval that count as working
# ...and never under this: reading the CPU time (psutil walks /proc for the children) costs a little
# itself, which a short interval (a test's) must not take for work.
MIN_BUSY_SECONDS = 0.1


def interval_seconds() -> float:
    """The heartbeat's interval: ``IMG23D_HEARTBEAT_SECONDS`` when it is a positive number, else 60 s."""
    try:
        value = float(os.environ.get(ENV, ""))
    except ValueError:
        return INTERVAL_SECONDS
    return value if value > 0 else INTERVAL_SECONDS


class Heartbeat:
    """While open, calls ``say(seconds so far)`` every ``interval`` seconds in which the process was
    busy (``busy()``, CPU seconds so far, grew by ``MIN_CPU_SHARE`` of the interval at least). ``say``
    runs on the heartbeat's own thread."""

    def __init__(self, say: Callable[[float], None], busy: Callable[[], float], interval: float | None = None) -> None:
        self._say = say
        self._busy = busy
        self._interval = interval if interval is not None else interval_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Heartbeat":
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._beat, name="img23d-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        last = self._busy()
        while not self._stop.wait(self._interval):
            now = self._busy()
            if now - last >= max(MIN_CPU_SHARE * self._interval, MIN_BUSY_SECONDS):
                try:
                    self._say(time.monotonic() - self._started)
                except Exception:  # noqa: BLE001 - a heartbeat that cannot be said must not end the job
                    return
            last = now
