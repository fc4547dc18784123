"""One install of an environment at a time, across processes (two Blenders, the button and a terminal).

The second install saw the first one's half-built environment as incomplete and deleted it while the first
one's pip still ran, and truncated the shared log. A lock file beside the environment (``<env>.install.lock``,
not inside it: the environment may be removed and made anew) is held for the whole install; the system
releases it when the holder ends, however it ends.
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
def held(env: Path) -> Iterator[None]:
    """Hold ``env``'s install lock while the block runs; ``EnvBusy`` at once when another process holds it."""
    path = lock_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if not _lock(handle):
            raise EnvBusy(f"another install of {env} is running (a second Blender, or the installer in a "
                          "terminal): wait for it to finish")
        try:
            yield
        finally:
            _unlock(handle)


def _lock(handle: IO[bytes]) -> bool:
    return _locking(handle, take=True)


def _unlock(handle: IO[bytes]) -> None:
    _locking(handle, take=False)  # False (already free) changes nothing: closing the file releases it anyway


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
