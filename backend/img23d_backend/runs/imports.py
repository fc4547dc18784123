"""A run folder that comes back from a Ray worker as bytes, brought into the batch's runs folder.

Checked and written by the protocol's one way to bring a run home (``img23d_protocol.run_import``,
the same code Import Run from Host goes through): names relative and safe, sizes and counts within
the batch's limits, a new folder (never reused), every file written atomically, nothing written
when the list is refused (and the folder removed when a write fails). A killed write's leftover
(``.tmp-*``) or a manifest's reserve is not a result: it is left behind. This module only turns
the worker's ``{path: bytes}`` into that list and picks the folder's name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from img23d_protocol import ErrorCode, ImportedRun, ProtocolError, RunLimits

from .disk_errors import disk_error
from .folders import copy_mode, folder_mode
from .stems import safe_stem


def import_run(runs_dir: Path, name: str, files: dict[str, bytes], limits: RunLimits = RunLimits(),
               readers: int = 0o777) -> Path:
    """Write ``files`` into a new run folder in ``runs_dir`` named like ``name``; returns it. ``readers``:
    the permission bits of the inputs it was made from (read on this machine): the folder and its files
    are readable by no more people than those (``folders.folder_mode`` and ``copy_mode``)."""
    if not isinstance(files, dict) or not all(isinstance(data, (bytes, bytearray)) for data in files.values()):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a run came back with a file that is not a name and bytes")
    base = safe_stem(PurePosixPath(str(name)).name)[:80] or "run"
    run = ImportedRun(runs_dir, base, [(path, len(data)) for path, data in files.items()], limits)
    try:
        for relative in run.files:
            written = run.write(relative, files[relative])
            os.chmod(written, stat.S_IMODE(written.stat().st_mode) & copy_mode(readers))
        os.chmod(run.root, stat.S_IMODE(run.root.stat().st_mode) & folder_mode(readers))
    except OSError as exc:
        run.discard()
        raise disk_error(exc, f"cannot set who may read {run.root}") from exc
    except ProtocolError:
        run.discard()
        raise
    return run.root
