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

The lock file is never opened through a symbolic link (``LockLinked``): opened for appending, a link there, dangling
or not, made or grew a file wherever it pointed, with the installer's rights.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


class LockRefused(Exception):
    """The install lock was not taken, so nothing was installed: said in one sentence (``install`` turns it into
    its ``InstallError``)."""


class EnvBusy(LockRefused):
    """Another process is installing into the same environment."""


class LockLinked(LockRefused):
    """The install lock's path is a symbolic link: nothing is opened through it (not a wait: it stays one)."""


def lock_path(env: Path) -> Path:
    return env.with_name(env.name + ".install.lock")


@contextmanager
def held(env: Path) -> Iterator[tuple[int, ...]]:
    """Hold ``env``'s install lock while the block runs; ``EnvBusy`` at once when another process holds it,
    ``LockLinked`` when its path is a symbolic link. Yields
    the descriptors the install's children are to inherit (none on Windows) so that the lock outlives a killed
    installer while any of them runs."""
    path = lock_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_plain(path) as handle:
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


def _open_plain(path: Path) -> IO[bytes]:
    """``path`` opened for appending (made if missing), never through a symbolic link: ``LockLinked`` for one."""
    if path.is_symlink():  # Windows has no O_NOFOLLOW: this check is all it gets
        raise _linked(path)
    # O_NOFOLLOW closes the gap between the check and the open (a link made in between) where the system has it.
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags, 0o666)
    except OSError:
        if path.is_symlink():  # ELOOP on Linux and macOS, EMLINK on FreeBSD: the link, whichever it says
            raise _linked(path) from None
        raise
    return os.fdopen(descriptor, "a+b")


def _linked(path: Path) -> LockLinked:
    return LockLinked(f"{path} is a symbolic link, not img23d's install lock: nothing was installed and nothing "
                      "was written where it points; remove the link and install again")


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
