"""A log file that cannot fill the disk: past ``cap`` bytes it is rotated (``name.1``, one generation).

The backend's log takes whatever the backend (or an SSH host, or ssh itself) writes on stderr, and
the install log whatever pip and the host's installer print: a broken or hostile far side could
write without end. So both are written through here, and use at most twice ``cap`` on disk: the
current file and the one before it. Writes go straight to the file (no buffer), so the log's tail,
read for an error message, is always what was said last. No bpy here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

LOG_CAP_BYTES = 16 << 20


class CappedLog:
    """Appends bytes or text (UTF-8) to ``path``; rotates to ``path.1`` when ``cap`` would be passed."""

    def __init__(self, path: Path, cap: int = LOG_CAP_BYTES, *, truncate: bool = False) -> None:
        self.path, self.cap = Path(path), cap
        self.rotations = 0
        self._handle: BinaryIO | None = open(self.path, "wb" if truncate else "ab", buffering=0)
        self._size = 0 if truncate else self.path.stat().st_size

    def write(self, data: bytes | str) -> int:
        raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
        if self._handle is None:
            return 0
        if self._size + len(raw) > self.cap and self._size > 0:
            self._rotate()
        raw = raw[-self.cap:]  # one write larger than the whole cap keeps its end
        self._handle.write(raw)
        self._size += len(raw)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here; kept so that a CappedLog stands in for an open text file."""

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> "CappedLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rotate(self) -> None:
        assert self._handle is not None
        self._handle.close()
        try:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        except OSError:
            pass  # another process holds it (Windows): it is emptied instead, the cap is what matters
        self._handle = open(self.path, "wb", buffering=0)
        self._size = 0
        self.rotations += 1
