"""A batch's list file read within bounds (issue 88): a regular file only, its size and its lines bounded
before a row is parsed, one sentence for each refusal.

A list was read whole, whatever it was: a 1.5 GB CSV held about seven times its size in memory (10.8 GB at its
peak) before its sentence, a list linked to ``/dev/zero`` read until Python's MemoryError, and a named pipe with no
writer waited without a word. It is now read as every file from elsewhere is (``img23d_protocol.bounded_read``: a
regular file, looked at before and after a non-blocking open, read ``MAX_LIST_BYTES`` + 1 bytes at most), and what
that refuses is said here, of a list. Its lines are counted once it is text (``check_lines``), before its rows are
read.
"""

from __future__ import annotations

from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError
from img23d_protocol.bounded_read import FileTooLarge, NotAFile, read_bounded

# A list line is a picture's path and its names (about 100 bytes) or a prompt (at most 2,000 characters):
# 32 MB holds some 100,000 prompts' lines, and reading it costs well under half a GB. The lines bound the
# pictures of one batch: 100,000 pictures are weeks of one GPU's time, and the batch's record grows with them.
MAX_LIST_BYTES = 32 * 1024 * 1024
MAX_LIST_LINES = 100_000


def read_list_bytes(path: Path) -> bytes:
    """The bytes of the list at ``path``: a regular file of at most ``MAX_LIST_BYTES``, else ``bad_request`` in
    one sentence naming it."""
    try:
        return read_bounded(path, MAX_LIST_BYTES).data
    except NotAFile as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} is {exc.kind}, not a file: give a .jsonl or "
                                                   ".csv file") from exc
    except FileTooLarge as exc:
        size = _megabytes(exc.size) if exc.size is not None else f"more than {_megabytes(MAX_LIST_BYTES)}"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} is {size}; a list may be at most "
                                                   f"{_megabytes(MAX_LIST_BYTES)}: split it into several lists (a "
                                                   "batch takes many INPUTs)") from exc
    except OSError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} cannot be read: {exc.strerror or exc}") from exc


def check_lines(path: Path, text: str) -> None:
    """``bad_request`` when the list's ``text`` holds more than ``MAX_LIST_LINES`` lines (before its rows are read)."""
    lines = text.count("\n") + (not text.endswith("\n"))
    if lines > MAX_LIST_LINES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the list {path} has {lines:,} lines; a list may have at most "
                                                   f"{MAX_LIST_LINES:,}: split it into several lists (a batch "
                                                   "takes many INPUTs)")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MB"
