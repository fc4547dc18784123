"""What a failed write says: the ``disk`` error's sentence, and the cause of a write cut short.

Most writes fail with an errno (``ENOSPC``: "the disk is full"). Some do not: numpy's ``np.save``
writes an array with C's ``fwrite`` and, when the disk fills part way, raises
``OSError("1000000 requested and 262112 written")`` with no errno at all, so a full disk at the
run's first large file (``depth.npy``) read "OSError"; so did one stopped by the process's file size
limit (``ulimit -f``), which cuts such a write exactly at the limit. ``short_write_cause`` asks the
disk while the half-written file still holds its last blocks, and the file's size against the limit,
and names the cause it finds.

A large file (a Gaussian splat PLY can be tens of MB) is first checked against the free space
(``check_room``), so a disk too small for it says so before its first byte rather than half way.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError

# A disk with less than this free after a write stopped short counts as full: file systems keep
# a few blocks back (ext4 for root, tmpfs rounds to pages), so "free" is rarely exactly zero.
FULL_DISK_SLACK = 1 << 20

# What a checked write leaves free: the job's next files (manifests, the next object's GLB) need some.
ROOM_MARGIN = 16 << 20

REASONS = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
           errno.EROFS: "the disk is read-only", errno.EDQUOT: "the disk quota is used up"}


def disk_error(exc: OSError, message: str) -> ProtocolError:
    """Turn an OSError from writing into a ``disk`` error whose message names the cause."""
    if exc.errno == errno.EFBIG:
        reason = _over_size_limit()
    else:
        reason = REASONS.get(exc.errno, exc.strerror or type(exc).__name__)  # type: ignore[arg-type]
    return ProtocolError(ErrorCode.DISK, f"{message}: {reason}", str(exc))


def check_room(folder: Path, size: int, final: Path) -> None:
    """Refuse, before its first byte, a write of ``size`` bytes into ``folder`` that would leave its
    disk with less than ``ROOM_MARGIN`` free: a ``disk`` error in one sentence. A disk whose free space
    cannot be read is left to the write itself, which says what it finds."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free - size < ROOM_MARGIN:
        raise ProtocolError(ErrorCode.DISK, f"cannot write {final}: it needs {_mb(size)} and the disk has "
                                            f"{_mb(free)} free", f"{size} bytes needed, {free} free")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def short_write_cause(exc: OSError, folder: Path, written: Path) -> OSError | None:
    """What stopped ``exc``, a write that failed without an errno: ENOSPC when ``folder``'s disk is (all
    but) full, EFBIG when ``written`` (the partly written file) stands at the process's file size limit;
    None otherwise (``exc`` says what it says). Call it before the partly written file is removed:
    removing it frees the blocks."""
    if exc.errno is not None:
        return None
    limit = file_size_limit()
    try:
        if limit is not None and written.stat().st_size >= limit:
            return OSError(errno.EFBIG, os.strerror(errno.EFBIG), str(written))
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= FULL_DISK_SLACK:
        return None
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))


def file_size_limit() -> int | None:
    """The largest file this process may write (``ulimit -f``, RLIMIT_FSIZE), in bytes; None: no limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def _over_size_limit() -> str:
    limit = file_size_limit()
    if limit is None:
        return "the file is larger than this file system holds"
    return (f"the file would be larger than this process may write: its file size limit (ulimit -f) is "
            f"{limit:,} bytes")
