"""One install of an environment at a time, across processes (two Blenders, the button and a terminal).

The second install saw the first one's half-built environment as incomplete and deleted it while the first
one's pip still ran, and truncated the shared log. A lock file beside the environment (``<env>.install.lock``,
not inside it: the environment may be removed and made anew) is held for the whole install; the system
releases it when the holder ends, however it ends.

The holder is the installer and, on Linux and macOS, every child it starts (pip, venv, the environment's checks):
each inherits the lock's descriptor (``held`` yields it; ``commands`` passes it on), and a ``flock`` lock lives
until the last descriptor of it is closed. An installer killed outright (SIGKILL, Blender crashing during Install
Backend) leaves its pip running in a session of its own: the lock then stays with that pip until it ends, and a
second install waits its turn instead of deleting the environment under it. On Windows the lock is the
installer's alone (``msvcrt`` locks are a process's, not inherited): there a killed installer's pip is not covered.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


class EnvBusy(Exception):
    """Another process is installing into the same environment."""


def lock_path(env: Path) -> Path:
    return env.with_name(env.name + ".install.lock")


@contextmanager
def held(env: Path) -> Iterator[tuple[int, ...]]:
    """Hold ``env``'s install lock while the block runs; ``EnvBusy`` at once when another process holds it. Yields
    the descriptors the install's children are to inherit (none on Windows) so that the lock outlives a killed
    installer while any of them runs."""
    path = lock_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if not _lock(handle):
            raise EnvBusy(f"another install of {env} is running (a second Blender, the installer in a terminal, or "
                          "the pip of an install that was stopped): wait for it to finish")
        try:
            yield () if sys.platform == "win32" else (handle.fileno(),)
        finally:
            if sys.platform == "win32":
                _locking(handle, take=False)
            # Elsewhere closing the file gives it back: an explicit unlock would free it for a child that still runs
            # (a pip that did not die when killed), as every inherited descriptor shares the one lock.


def _lock(handle: IO[bytes]) -> bool:
    return _locking(handle, take=True)


def _locking(handle: IO[bytes], take: bool) -> bool:
    """Take (without waiting) or give back the lock on ``handle``'s file; False when it could not."""
    try:
        if sys.platform == "win32":
            import msvcrt  # Windows only

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK if take else msvcrt.LK_UNLCK, 1)
        else:
            import fcntl  # POSIX only

            fcntl.flock(handle.fileno(), (fcntl.LOCK_EX | fcntl.LOCK_NB) if take else fcntl.LOCK_UN)
    except OSError:
        return False
    return True
