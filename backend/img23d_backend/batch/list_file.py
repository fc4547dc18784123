"""A batch's list file read within bounds (issue 88): a regular file only, its size and its lines bounded
before a row is parsed, one sentence for each refusal.

A list was read whole, whatever it was: a 1.5 GB CSV held about seven times its size in memory (10.8 GB at its
peak) before its sentence, a list linked to ``/dev/zero`` read until Python's MemoryError, and a named pipe with no
writer waited without a word. The file is now looked at first (``os.stat``, its links followed: a regular file,
of at most ``MAX_LIST_BYTES``), opened without blocking (a pipe put in its place meanwhile does not hang the
open) and looked at again through the open file, then read ``MAX_LIST_BYTES`` + 1 bytes at most (a file that
grew, or one whose size the system does not report, as ``/proc``'s, stops there). Its lines are counted once it
is text (``check_lines``), before its rows are read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError

# A list line is a picture's path and its names (about 100 bytes) or a prompt (at most 2,000 characters):
# 32 MB holds some 100,000 prompts' lines, and reading it costs well under half a GB. The lines bound the
# pictures of one batch: 100,000 pictures are weeks of one GPU's time, and the batch's record grows with them.
MAX_LIST_BYTES = 32 * 1024 * 1024
MAX_LIST_LINES = 100_000
_CHUNK = 1 << 20
_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def read_list_bytes(path: Path) -> bytes:
    """The bytes of the list at ``path``: a regular file of at most ``MAX_LIST_BYTES``, else ``bad_request`` in
    one sentence naming it."""
    try:
        _check_file(path, os.stat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        _check_file(path, os.fstat(fd))   # what was opened, if the path changed since it was looked at
        chunks: list[bytes] = []
        held = 0
        while held <= MAX_LIST_BYTES:
            chunk = os.read(fd, min(_CHUNK, MAX_LIST_BYTES + 1 - held))
            if not chunk:
                break
            chunks.append(chunk)
            held += len(chunk)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    finally:
        os.close(fd)
    if held > MAX_LIST_BYTES:
        raise _too_large(path, f"more than {_megabytes(MAX_LIST_BYTES)}")
    return b"".join(chunks)


def check_lines(path: Path, text: str) -> None:
    """``bad_request`` when the list's ``text`` holds more than ``MAX_LIST_LINES`` lines (before its rows are read)."""
    lines = text.count("\n") + (not text.endswith("\n"))
    if lines > MAX_LIST_LINES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} has {lines:,} lines; a list may have at most "
                                                   f"{MAX_LIST_LINES:,}: split it into several lists (a batch "
                                                   "takes many INPUTs)")


def _check_file(path: Path, found: os.stat_result) -> None:
    kind = next((said for test, said in _KINDS if test(found.st_mode)), None)
    if kind is not None or not stat.S_ISREG(found.st_mode):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} is {kind or 'not a regular file'}, not a "
                                                   "file: give a .jsonl or .csv file")
    if found.st_size > MAX_LIST_BYTES:
        raise _too_large(path, _megabytes(found.st_size))


def _too_large(path: Path, size: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} is {size}; a list may be at most "
                                                f"{_megabytes(MAX_LIST_BYTES)}: split it into several lists (a batch "
                                                "takes many INPUTs)")


def _unreadable(path: Path, exc: OSError) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} cannot be read: {exc.strerror or exc}")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MB"
