"""A run folder that comes home from another machine: its file list checked, its files written
into a fresh local folder.

The one way a run made elsewhere lands here, whichever road it took: the add-on's Import Run
from Host (the backend over SSH lists the run's files, then each is fetched in chunks) and the
batch driver (a Ray worker sends its run folder back as bytes). Both hand the other machine's
list of ``(relative path, size)`` to ``check_run_files`` and write through ``ImportedRun``.

``check_run_files`` trusts nothing in the list: it must be a list of at most ``max_files``
entries; every path relative, POSIX, each part a name ``safe_names`` accepts (no ``..``, no
absolute path, no backslash, device name or hidden file), none equal to another but for case
or Unicode normalisation, none both a file and the folder of another; every size a whole number within ``max_file_bytes``; all of them
together within ``max_bytes``. A killed write's leftover (``.tmp-*``) or a manifest's reserve is
not a result: it is left out, not refused.

``ImportedRun`` makes a new folder (``name``, else ``name-2``, ``name-3``...: a run already here
is never written into) only once the list has passed, and writes only the files the list named,
each exactly the size it announced, each under a temporary name renamed into place once its
size and checksum match (``transfer.Receiver``), never outside the folder. ``discard`` removes
the folder when the import fails, so no half run stays. Standard library only.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import ErrorCode, ProtocolError
from .run_files import RUN_RESERVE_NAME, RUN_TEMP_PREFIX
from .safe_names import NameSet, check_name, check_relative, folded
from .transfer import MAX_FILE_BYTES, Receiver, check_announced

MAX_RUN_FILES = 4096           # a run of 32 names with crops, mattes and regenerations is ~200
MAX_RUN_BYTES = 8 * 1024 ** 3  # all of one run's files together
FRESH_TRIES = 1000             # name-2 ... name-1000: past that, something is wrong with the folder


@dataclass(frozen=True)
class RunLimits:
    """What one run brought home may hold: files, bytes in all, bytes in one file."""

    max_files: int = MAX_RUN_FILES
    max_bytes: int = MAX_RUN_BYTES
    max_file_bytes: int = MAX_FILE_BYTES


def _refuse(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, message)


def is_bookkeeping(relative: str) -> bool:
    """Whether a run's file is a write in progress or the manifest's reserve: not a result."""
    name = PurePosixPath(relative).name
    return name.startswith(RUN_TEMP_PREFIX) or name == RUN_RESERVE_NAME


def check_run_files(entries: object, limits: RunLimits = RunLimits()) -> dict[str, int]:
    """The run's files, ``relative path -> size``, from a list of ``(path, size)`` pairs another
    machine sent; ``ProtocolError(bad_request)`` for the first thing that is not acceptable."""
    if not isinstance(entries, (list, tuple)) or len(entries) > limits.max_files:
        raise _refuse(f"a run's file list must be a list of at most {limits.max_files} files")
    files: dict[str, int] = {}
    names = NameSet()
    folders: set[str] = set()   # folded, as the disk would take them: no file may be one of them
    filed: set[str] = set()     # the files' paths, folded: no folder may be one of them
    total = 0
    for entry in entries:
        if not isinstance(entry, tuple) or len(entry) != 2:
            raise _refuse("a run's file list holds an entry that is not a path and a size")
        path, size = entry
        if not isinstance(path, str):
            raise _refuse("a run's file list holds an entry that is not a path and a size")
        if is_bookkeeping(path):
            if "/" in path:
                check_relative(path.rpartition("/")[0])  # its folders still may not leave the run
            continue
        if path in files:
            raise _refuse(f"a run's file list names {str(path)[:80]!r} twice")
        try:
            names.add(path)  # each part a safe name: no "..", no "/" at the start, no "\\", device or dot-file
        except ProtocolError as exc:
            raise _refuse(f"a run's file list names a file that would leave its run folder or cannot be held "
                          f"here: {exc.message}") from None
        parts = folded(path).split("/")
        above = {"/".join(parts[:n]) for n in range(1, len(parts))}
        if "/".join(parts) in folders or above & filed:
            raise _refuse(f"a run's file list names {path[:80]!r} both as a file and as a folder")
        folders |= above
        filed.add("/".join(parts))
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= limits.max_file_bytes:
            raise _refuse(f"{path[:80]!r}: its size must be a whole number of bytes up to "
                          f"{limits.max_file_bytes:,}, not {size!r}")
        total += size
        if total > limits.max_bytes:
            raise _refuse(f"a run's files add up to {total:,} bytes or more; one run may bring at most "
                          f"{limits.max_bytes:,} here")
        files[path] = size
    return files


def fresh_folder(runs_dir: Path, name: str) -> Path:
    """Make and return a new, empty folder ``runs_dir/name`` (``name-2``, ``name-3``... when taken)."""
    check_name(name)
    for number in range(1, FRESH_TRIES + 1):
        folder = runs_dir / (name if number == 1 else f"{name}-{number}")
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir()  # not exist_ok: a folder that is there is never reused
        except FileExistsError:
            continue
        except OSError as exc:
            raise ProtocolError(ErrorCode.DISK, f"cannot make {folder}: {exc.strerror or exc}", str(exc)) from exc
        return folder
    raise ProtocolError(ErrorCode.DISK, f"there are already {FRESH_TRIES} folders named like {runs_dir / name}")


class ImportedRun:
    """A run made elsewhere, brought into a fresh folder of ``runs_dir`` named like ``name``.

    The file list is checked (``check_run_files``) before the folder is made: a list that is
    refused makes nothing. Then each listed file is written once, by ``write`` (its bytes at once)
    or ``receiver`` (chunk by chunk, for a transfer)."""

    def __init__(self, runs_dir: Path, name: str, entries: list[tuple[str, int]],
                 limits: RunLimits = RunLimits()) -> None:
        self.files = check_run_files(entries, limits)
        self.root = fresh_folder(Path(runs_dir), name)
        self._base = self.root.resolve()
        self._written: set[str] = set()

    def path(self, relative: str) -> Path:
        """Where the listed file ``relative`` lands; refused when the list did not name it, or when
        its real path would leave the run's folder (a link met on the way)."""
        if relative not in self.files:
            raise _refuse(f"{str(relative)[:80]!r} is not one of the run's listed files")
        local = self.root.joinpath(*check_relative(relative))
        resolved = local.resolve()
        if self._base not in resolved.parents:
            raise _refuse(f"{relative[:80]!r} would be written outside its run folder {self.root}")
        return local

    def receiver(self, relative: str, size: object, sha256: object) -> Receiver:
        """A ``Receiver`` for the listed file ``relative``, whose transfer announces ``size`` and
        ``sha256``: refused when the size differs from the listed one, or the file came already."""
        destination = self.path(relative)
        announced, _ = check_announced(size, sha256)
        if announced != self.files[relative]:
            raise _refuse(f"{relative[:80]}: the transfer announces {announced:,} bytes, the run's listing said "
                          f"{self.files[relative]:,}")
        if relative in self._written:
            raise _refuse(f"{relative[:80]}: the file came twice")
        self._written.add(relative)
        return Receiver(destination, size, sha256, limit=self.files[relative])

    def file(self, relative: str) -> "ImportedFile":
        """The listed file ``relative``, for a transfer that writes it later; refused as ``path`` refuses."""
        self.path(relative)
        return ImportedFile(self, relative)

    def write(self, relative: str, data: bytes) -> Path:
        """Write the listed file ``relative`` whole (atomically); returns its path."""
        receiver = self.receiver(relative, len(data), hashlib.sha256(data).hexdigest())
        receiver.write(0, bytes(data))
        return receiver.finish()

    def discard(self) -> None:
        """Remove the folder and all it holds: a failed import leaves no half run."""
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class ImportedFile:
    """One listed file of an ``ImportedRun``, for a transfer that writes it chunk by chunk."""

    run: ImportedRun
    relative: str

    @property
    def path(self) -> Path:
        return self.run.path(self.relative)

    def receiver(self, size: object, sha256: object) -> Receiver:
        return self.run.receiver(self.relative, size, sha256)
