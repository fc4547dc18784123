"""What the command line prints: each character a terminal shows as itself, every other one escaped.

Sentences name files, and a file's name is whatever its maker chose: U+202E turns the rest of a
printed line around (``gpj.exe`` reads as ``exe.jpg``), U+2028 breaks it, U+200B hides inside a
word, and an escape sequence (``\\x1b[2J``) clears the screen. ``shown_output`` puts every line the
commands print through ``shown``: printable characters and the line ends and tab the commands write
themselves stay as they are, the others become ``\\uXXXX``. That form is also a JSON string's own
escape (astral characters as their surrogate pair), so ``--json`` lines stay valid JSON meaning
the same. The service (``serve``) is the one command left out: its stdout is the protocol's.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from typing import TextIO

KEPT = frozenset("\n\r\t")   # what the commands' own lines and the progress bar are made of


def shown(text: str) -> str:
    """``text`` with each character a terminal would not show as itself escaped as ``\\uXXXX``."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in KEPT else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


class ShownStream(io.TextIOBase):
    """A text stream that writes ``shown(text)`` to the stream it wraps; a terminal stays a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(shown(text))
        return len(text)

    def flush(self) -> None:
        # The wrapped stream is its owner's: a wrapper kept past main() (by a job's printer in garbage not yet
        # collected) may be flushed, when collected, after its owner closed it (a test's capture, a program's
        # own stream); the command flushed it when it ended (``shown_output``).
        if not getattr(self.stream, "closed", False):
            self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")


@contextlib.contextmanager
def shown_output() -> Iterator[None]:
    """Within it, ``sys.stdout`` and ``sys.stderr`` print through ``shown``."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ShownStream(out), ShownStream(err)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = out, err
