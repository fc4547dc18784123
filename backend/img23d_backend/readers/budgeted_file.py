"""Reading an image file through a budget of bytes and reads, so Pillow cannot be led on for ever by a file.

``BudgetedFile`` is the file as Pillow reads it in ``readers.images``: no ``name`` and no ``fileno``, so Pillow reads
through ``read`` alone and never maps the file or hands its descriptor to a C library; every byte and every call
passes the budget ``allow`` sets (a header may not go on for ever: a PNG chunk that claims 4 GB, a JPEG of junk read
byte by byte; decoding may not read much more than its pixels can need). Past it, ``OverBudget`` with the words the
reader turns into its one sentence.
"""

from __future__ import annotations

import io
from typing import BinaryIO


def amount(size: int) -> str:
    """A file's or a buffer's size as a person reads it: "1.2 GB", "3.4 MB", "512 bytes"."""
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size:,} bytes"


class OverBudget(Exception):
    """Reading the file went past what its header (or its pixels) can need."""


class BudgetedFile(io.RawIOBase):
    """The image file as Pillow reads it, with a limit on bytes and reads.

    No ``name`` and no ``fileno``: Pillow then reads through ``read`` and never maps the file
    or hands its descriptor to a C library, so every byte passes the budget."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw = raw
        self.used = 0
        self._calls = 0
        self._max_bytes: int | None = None
        self._max_calls: int | None = None
        self._what = ""

    def allow(self, max_bytes: int | None, max_calls: int | None, what: str) -> None:
        self._max_bytes, self._max_calls, self._calls, self._what = max_bytes, max_calls, 0, what

    def peek_start(self, size: int) -> bytes:
        position = self.raw.tell()
        self.raw.seek(0)
        start = self.raw.read(size)
        self.raw.seek(position)
        return start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        self._calls += 1
        if self._max_calls is not None and self._calls > self._max_calls:
            raise OverBudget(f"{self._what} takes more than {self._max_calls:,} reads")
        if self._max_bytes is not None:
            left = self._max_bytes - self.used
            if size is None or size < 0 or size > left:
                # One byte more than allowed, so a file that ends exactly at the limit still reads.
                data = self.raw.read(left + 1)
                if len(data) > left:
                    raise OverBudget(f"{self._what} goes on past {amount(self._max_bytes)}")
                self.used += len(data)
                return data
        data = self.raw.read(size)
        self.used += len(data)
        return data

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        line = bytearray()
        while size is None or size < 0 or len(line) < size:
            byte = self.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)


__all__ = ["BudgetedFile", "OverBudget", "amount"]
