"""A run folder that comes back from another machine as bytes (a Ray worker's): written into the
runs folder through ``runs`` (a new folder, never reused; every file written atomically).

Its file names and sizes are untrusted: a name that is absolute, has a ``..`` part, a
backslash, or otherwise would land outside the new folder is refused, and so is any name the
protocol's one name checker refuses (``img23d_protocol.safe_names``: device names, hidden files,
names one disk would take for one...), as are too many files or too many bytes; nothing is then
written (and the empty folder is removed).
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from img23d_protocol import RUN_RESERVE_NAME, RUN_TEMP_PREFIX, ErrorCode, NameSet, ProtocolError

from .folders import atomic_write, new_run_dir
from .stems import safe_stem


def check_run_files(files: dict[str, bytes], max_files: int, max_bytes: int) -> None:
    """Raise ``ProtocolError(bad_request)`` for the first file name or size that is not acceptable."""
    if not isinstance(files, dict) or len(files) > max_files:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a run came back with more than {max_files} files")
    total = 0
    names = NameSet()
    for name, data in files.items():
        if not isinstance(name, str) or not isinstance(data, (bytes, bytearray)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a run came back with a file that is not a name and bytes")
        try:
            names.add(name)  # each part a safe name: no "..", "/" at the start, "\\", device names, dot-files
        except ProtocolError as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"a run came back with a file name that would leave its run "
                                                       f"folder or cannot be held here: {exc.message}") from None
        total += len(data)
    if total > max_bytes:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a run came back with {total:,} bytes; at most {max_bytes:,}")


def import_run(runs_dir: Path, name: str, files: dict[str, bytes], *, max_files: int = 20_000,
               max_bytes: int = 4 << 30) -> Path:
    """Write ``files`` into a new run folder in ``runs_dir`` named like ``name``; returns it. A killed
    write's leftover (``.tmp-*``) or a manifest's reserve is not a result: it is left behind."""
    if isinstance(files, dict):
        files = {name: data for name, data in files.items()
                 if not (isinstance(name, str) and _bookkeeping(PurePosixPath(name).name))}
    check_run_files(files, max_files, max_bytes)
    base = safe_stem(PurePosixPath(str(name)).name)[:80] or "run"
    root = new_run_dir(runs_dir, base)
    resolved = root.resolve()
    try:
        for relative, data in files.items():
            final = (root / relative).resolve()
            if resolved not in final.parents:  # the checks above, once more on the real path
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"the file name {relative!r} would leave its run folder")
            atomic_write(final, lambda p, data=data: p.write_bytes(data))
    except ProtocolError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root


def _bookkeeping(name: str) -> bool:
    return name.startswith(RUN_TEMP_PREFIX) or name == RUN_RESERVE_NAME
