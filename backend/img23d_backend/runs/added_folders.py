"""A folder that a later command adds inside a run it did not make (``print/``): new, never reused.

A run's own files are its job's, written once (``folders.RunFolder``); a print of that run comes later, perhaps
many times, with other settings. Each gets a folder of its own inside the run: ``<name>/`` the first time, then
``<name>-<UTC time>/`` (``-2``, ``-3``... on a clash), so nothing an earlier print or the artist put there is
ever written over. The folder is no more open than the run it is in (a private run stays private), and every
file goes in through ``atomic_write``: never a half file.
"""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from img23d_protocol import ErrorCode, ProtocolError

from .disk_errors import disk_error
from .folders import atomic_write


class AddedFolder:
    """A new folder inside a run; create with ``AddedFolder.create``, write only through ``write_bytes_with``."""

    def __init__(self, root: Path, readers: int) -> None:
        self.root = root
        self._readers = readers  # the run folder's read bits: what every file here keeps at most

    @classmethod
    def create(cls, run_root: Path, name: str) -> "AddedFolder":
        """``<run_root>/<name>/``, or ``<name>-<UTC time>/`` where that exists (``-2``... after it)."""
        run_root = run_root.resolve()
        if not run_root.is_dir():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{run_root} is not a folder")
        mode = stat.S_IMODE(run_root.stat().st_mode)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        names = [name, f"{name}-{stamp}", *(f"{name}-{stamp}-{n}" for n in range(2, 1000))]
        for candidate in names:
            folder = run_root / candidate
            try:
                folder.mkdir()  # not exist_ok: an earlier print's folder, or the artist's, is never reused
            except FileExistsError:
                continue
            except OSError as exc:
                raise disk_error(exc, f"cannot create a folder in {run_root}") from exc
            try:
                os.chmod(folder, mode | stat.S_IRWXU)  # as open as the run, no more
            except OSError as exc:
                raise disk_error(exc, f"cannot set who may read {folder}") from exc
            return cls(folder, _read_bits(mode))
        raise ProtocolError(ErrorCode.DISK, f"could not find a free folder name for {name} in {run_root}")

    def path(self, relative: str) -> Path:
        """The absolute path of a file in this folder; refuses one that would leave it."""
        target = (self.root / relative).resolve()
        if target.parent != self.root.resolve() or target.name in ("", ".", ".."):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{relative!r} would leave {self.root}")
        return target

    def write_bytes_with(self, relative: str, writer: Callable[[Path], None]) -> Path:
        """Write ``relative`` through ``writer(temporary path)``, then move it into place."""
        return atomic_write(self.path(relative), writer, like=self._readers)


def _read_bits(folder_mode: int) -> int:
    """The file permission bits a folder of ``folder_mode`` lets its readers have: whoever cannot list the run
    does not read its files either."""
    return 0o600 | (0o060 if folder_mode & 0o050 == 0o050 else 0) | (0o006 if folder_mode & 0o005 == 0o005 else 0)
