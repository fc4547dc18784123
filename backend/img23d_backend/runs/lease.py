"""The leases this process holds on the folders it is writing under a runs folder (a run, an upload, the warm-up's),
and on a batch folder's lock (``batch/lock.py``: a file, renewed the same way).

A folder's lease is its modification time: while this process holds the folder, one daemon thread sets that time
to now every ``RENEW_SECONDS``. A backend sharing the runs folder that cannot tell whether the folder's owner
lives (it runs on another machine, or in another container: ``owner.py``) reads the time instead: a folder
untouched for ``EXPIRES_SECONDS`` (minutes: many renewals missed) has no live owner, and one touched lately is
left alone. A writer's own files touch the time as well; nothing but a live writer keeps it fresh for minutes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

RENEW_SECONDS = 30.0
# Twenty renewals missed: a process stopped for a moment, a slow network file system or two clocks some
# minutes apart do not make a live owner look dead.
EXPIRES_SECONDS = 600.0


class Leases:
    """The folders this process holds, renewed from one daemon thread (started by the first ``hold``)."""

    def __init__(self) -> None:
        self._held: set[Path] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, folder: Path) -> None:
        """Renew ``folder``'s lease now and every ``RENEW_SECONDS`` until ``release`` (or until it is removed)."""
        with self._lock:
            self._held.add(folder)
            if self._thread is None or not self._thread.is_alive():  # a forked child has none of its parent's
                self._thread = threading.Thread(target=self._run, name="img23d-leases", daemon=True)
                self._thread.start()
        _touch(folder)

    def release(self, folder: Path) -> None:
        with self._lock:
            self._held.discard(folder)

    def held(self) -> list[Path]:
        with self._lock:
            return sorted(self._held)

    def renew(self) -> None:
        """One round: every folder held gets the time now; one removed since is let go."""
        for folder in self.held():
            if not _touch(folder):
                self.release(folder)

    def _run(self) -> None:
        while True:
            time.sleep(RENEW_SECONDS)
            self.renew()


LEASES = Leases()


def expired(folder: Path, renew_seconds: float = RENEW_SECONDS) -> bool:
    """Whether ``folder``'s lease has lapsed: untouched for ``EXPIRES_SECONDS``, or twenty of its owner's
    renewals (``renew_seconds`` apart, as its record says) where that is longer. A time ahead of this clock
    (another machine's) is fresh."""
    try:
        touched = folder.stat().st_mtime
    except OSError:
        return False  # gone, or not ours to read: nothing here to tidy
    return time.time() - touched > lapses_after(renew_seconds)


def lapses_after(renew_seconds: float = RENEW_SECONDS) -> float:
    """How long a lease renewed every ``renew_seconds`` may go unrenewed before it has lapsed (``expired``)."""
    return max(EXPIRES_SECONDS, 20 * renew_seconds)


def _touch(folder: Path) -> bool:
    """Set ``folder``'s modification time to now; False when it is gone."""
    try:
        os.utime(folder)
    except FileNotFoundError:
        return False
    except OSError as exc:  # a read-only share, say: its owner's own writes still touch it
        log.debug("could not renew the lease of %s: %s", folder, exc)
    return True
