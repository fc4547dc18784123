"""One install on a worker thread, as the add-on's preferences see it.

The thread only calls the installer; the main thread reads the fields below (written
under a lock) to draw progress, and sets the cancel flag. Nothing here touches bpy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from .install import InstallCancelled, InstallError, InstallResult, Step
from .torch_choice import NoTorchBuild

# The work: given a progress callback and a cancel check, install and return the result.
Work = Callable[[Callable[[Step, float, str], None], Callable[[], bool]], InstallResult]


@dataclass
class InstallTask:
    step: Step | None = None
    fraction: float = 0.0
    message: str = "preparing"
    result: InstallResult | None = None
    error: str = ""
    cancelled: bool = False
    finished: bool = False
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self, work: Work) -> None:
        self._thread = threading.Thread(target=self._run, args=(work,), name="img23d-install", daemon=True)
        self._thread.start()

    def run_here(self, work: Work) -> None:
        """Background mode and scripts: the same work, on the calling thread."""
        self._run(work)

    def _run(self, work: Work) -> None:
        try:
            result = work(self._progress, self._cancel.is_set)
        except InstallCancelled as exc:
            self._end(error=str(exc), cancelled=True)
        except InstallError as exc:
            self._end(error=str(exc))
        except NoTorchBuild as exc:  # the automatic build refused before anything began: its one sentence
            self._end(error=f"{Step.TORCH.label}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the thread's boundary: report, never die silently
            self._end(error=f"the installer failed unexpectedly: {type(exc).__name__}: {exc}")
        else:
            self._end(result=result)

    def _progress(self, step: Step, fraction: float, message: str) -> None:
        with self._lock:
            self.step, self.fraction, self.message = step, fraction, message

    def _end(self, result: InstallResult | None = None, error: str = "", cancelled: bool = False) -> None:
        with self._lock:
            self.result, self.error, self.cancelled, self.finished = result, error, cancelled, True
            if result is not None:
                self.fraction, self.message = 1.0, result.summary()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelling(self) -> bool:
        return self._cancel.is_set() and not self.finished

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def snapshot(self) -> tuple[Step | None, float, str]:
        with self._lock:
            return self.step, self.fraction, self.message
