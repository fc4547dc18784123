"""A running job's reserve: preallocated room in its run folder for the final manifest on a full disk.

Each running job keeps ``<run>/.img23d-reserve``, at least ``RESERVE_MIN_BYTES`` of real blocks, grown
with the manifest. When an ordinary write of the final manifest finds no room, the manifest is written
over the reserve's own blocks and renamed into place: neither needs a free block. ``runs/folders.py``
(``RunFolder``) is its only user; the reserves of dead jobs are removed by the recovery pass there.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Any

from img23d_protocol import RUN_RESERVE_NAME

log = logging.getLogger(__name__)

RESERVE_NAME = RUN_RESERVE_NAME
RESERVE_MIN_BYTES = 1 << 20       # a manifest of 32 names with every field filled is ~60 kB


def grow(root: Path, size: int, required: bool = False) -> None:
    """Make sure the reserve file of the run ``root`` holds at least ``size`` bytes of allocated blocks.
    ``required`` (when the folder is created): raise OSError when there is no room. Later
    growth is best effort: the reserve already there holds any ordinary manifest."""
    reserve = root / RESERVE_NAME
    size = max(size, RESERVE_MIN_BYTES)
    try:
        if reserve.exists() and reserve.stat().st_size >= size:
            return
        with open(reserve, "ab") as handle:
            _allocate(handle, size)
    except OSError as exc:
        if required:
            raise
        log.warning("%s: could not grow the reserve file: %s", root, exc)


def write_into(root: Path, data: bytes, final: Path, mode: int) -> bool:
    """Write ``data`` over the reserve's own blocks and rename it to ``final`` with permissions ``mode``:
    neither needs a free block. False when there is no reserve (or ``data`` does not fit in it)."""
    reserve = root / RESERVE_NAME
    try:
        if reserve.stat().st_size < len(data):
            return False
        with open(reserve, "r+b") as handle:
            handle.write(data)
            handle.truncate(len(data))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(reserve, mode)
        os.replace(reserve, final)
    except OSError as exc:
        log.error("%s: could not write the final manifest even into the reserve: %s", root, exc)
        return False
    return True


def release(root: Path) -> None:
    try:
        (root / RESERVE_NAME).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("%s: could not remove the reserve file: %s", root, exc)


def _allocate(handle: Any, size: int) -> None:
    """Allocate real blocks (not a sparse hole) for the first ``size`` bytes of ``handle``."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(handle.fileno(), 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    # No fallocate here: write the bytes. Random ones, so a compressing filesystem keeps them.
    handle.seek(0, os.SEEK_END)
    missing = size - handle.tell()
    while missing > 0:
        chunk = os.urandom(min(missing, 1 << 16))
        handle.write(chunk)
        missing -= len(chunk)
    handle.flush()
    os.fsync(handle.fileno())
