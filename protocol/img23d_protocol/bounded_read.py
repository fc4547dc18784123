"""One way to read a file that came from elsewhere whole, within a bound: a batch's list (the backend's
``batch/list_file.py``), a picture sent to another machine (``readers/images.read_picture_file``), a run's JSON
(``run_manifest.read_run_file``: the manifest, ``relayout.json``).

Each was read its own way once: a list whole, whatever it was (a 1.5 GB CSV held about seven times its size before
its sentence, a list linked to ``/dev/zero`` read until Python's MemoryError, a named pipe with no writer waited
without a word); a run's JSON by a blocking open, so a pipe put in a manifest's place held the reader. Here the
path is looked at first (``os.stat``, its links followed: a regular file of at most ``most`` bytes), opened without
blocking (a pipe put in its place meanwhile does not hang the open), looked at again through the open file, then
read ``most`` + 1 bytes at most (a file that grew, or one whose size the system does not report, as ``/proc``'s,
stops there). What was wrong is an exception that says it (``NotAFile``, ``FileTooLarge``, or the ``OSError`` of a
file that is missing or cannot be read); each caller words its own sentence from it, in its own error code.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

_CHUNK = 1 << 20
_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class NotAFile(ValueError):
    """``path`` is no regular file: ``kind`` says what it is ("a named pipe", "a device", "a socket", "a folder",
    else "not a regular file")."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a file")
        self.path, self.kind = path, kind


class FileTooLarge(ValueError):
    """``path`` holds more than ``most`` bytes: ``size`` as the system gave it, or None where it said less and more
    was found (the file grew, or its size is not reported); never read past ``most`` + 1 bytes."""

    def __init__(self, path: Path, size: int | None, most: int) -> None:
        super().__init__(f"{path} holds {'more than ' if size is None else ''}{size or most:,} bytes, over {most:,}")
        self.path, self.size, self.most = path, size, most


@dataclass(frozen=True)
class BoundedFile:
    """A file's bytes as one bounded read found them, and its mode (permission bits and kind) as opened."""

    data: bytes = field(repr=False)
    mode: int

    @property
    def permissions(self) -> int:
        return stat.S_IMODE(self.mode)


def read_bounded(path: Path, most: int) -> BoundedFile:
    """The bytes of the regular file at ``path``, at most ``most`` of them: ``NotAFile``, ``FileTooLarge``, or the
    ``OSError`` of one that is missing or cannot be read."""
    path = Path(path)
    _check(path, os.stat(path), most)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        found = os.fstat(fd)
        _check(path, found, most)   # what was opened, if the path changed since it was looked at
        chunks: list[bytes] = []
        held = 0
        while held <= most:
            chunk = os.read(fd, min(_CHUNK, most + 1 - held))
            if not chunk:
                break
            chunks.append(chunk)
            held += len(chunk)
    finally:
        os.close(fd)
    if held > most:
        raise FileTooLarge(path, None, most)
    return BoundedFile(b"".join(chunks), found.st_mode)


def _check(path: Path, found: os.stat_result, most: int) -> None:
    kind = next((said for test, said in _KINDS if test(found.st_mode)), None)
    if kind is not None or not stat.S_ISREG(found.st_mode):
        raise NotAFile(path, kind or "not a regular file")
    if found.st_size > most:
        raise FileTooLarge(path, found.st_size, most)


__all__ = ["BoundedFile", "FileTooLarge", "NotAFile", "read_bounded"]
