"""What a failed write says: the ``disk`` error's sentence, and the cause of a write cut short.

Most writes fail with an errno (``ENOSPC``: "the disk is full"). Some do not: numpy's ``np.save``
writes an array with C's ``fwrite`` and, when the disk fills part way, raises
``OSError("1000000 requested and 262112 written")`` with no errno at all, so a full disk at the
run's first large file (``depth.npy``) read "OSError". ``full_disk_cause`` asks the disk while
the half-written file still holds its last blocks, and names the cause it finds.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError

# A disk with less than this free after a write stopped short counts as full: file systems keep
# a few blocks back (ext4 for root, tmpfs rounds to pages), so "free" is rarely exactly zero.
FULL_DISK_SLACK = 1 << 20

REASONS = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
           errno.EROFS: "the disk is read-only", errno.EDQUOT: "the disk quota is used up"}


def disk_error(exc: OSError, message: str) -> ProtocolError:
    """Turn an OSError from writing into a ``disk`` error whose message names the cause."""
    reason = REASONS.get(exc.errno, exc.strerror or type(exc).__name__)  # type: ignore[arg-type]
    return ProtocolError(ErrorCode.DISK, f"{message}: {reason}", str(exc))


def full_disk_cause(exc: OSError, folder: Path) -> OSError | None:
    """An ENOSPC error for ``exc``, a write that failed without an errno, when ``folder``'s disk is (all
    but) full; None otherwise (``exc`` says what it says). Call it before the partly written file is
    removed: removing it frees the blocks."""
    if exc.errno is not None:
        return None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= FULL_DISK_SLACK:
        return None
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))
