"""The runs folder read back for an add-on on another machine: which runs there are, and which
files one run holds (the ``runs`` request, protocol 1.9; ``img23d_protocol.run_list``).

Only reads: run folders are written by ``runs/folders.py`` alone. A run is a folder directly under the
runs folder with a ``manifest.json`` that parses; uploads (``_uploads/``) and anything else are not
listed. A run's files are its regular files, found without following links (a link could lead
out of the runs folder; the fetch of a listed file checks again, ``transfer_service``), without
the leftovers of writes cut short (``.tmp-*``) and the manifest's reserve.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from img23d_protocol import (MAX_RUN_FILES, MAX_RUNS_LISTED, ErrorCode, ProtocolError, RunFile, RunListing, RunSummary,
                             is_bookkeeping, read_manifest)

from .transfers import UPLOADS_DIR


def list_runs(runs_dir: Path, limit: int = MAX_RUNS_LISTED) -> RunListing:
    """The newest ``limit`` runs (folder names start with their UTC time: newest sorts last)."""
    root = runs_dir.resolve()
    if not root.is_dir():
        return RunListing()
    folders = sorted((entry for entry in os.scandir(root)
                      if entry.name != UPLOADS_DIR and entry.is_dir(follow_symlinks=False)),
                     key=lambda entry: entry.name, reverse=True)
    runs: list[RunSummary] = []
    for entry in folders:
        summary = _summary(Path(entry.path))
        if summary is not None:
            runs.append(summary)
            if len(runs) >= limit:
                break
    return RunListing(runs=tuple(runs))


def run_files(runs_dir: Path, run: str) -> RunListing:
    """The files of one run folder, named by the path the backend gave it (a ``run_dir`` or a list entry)."""
    root = runs_dir.resolve()
    folder = Path(run)
    if not folder.is_absolute() or folder.parent.resolve() != root or folder.name == UPLOADS_DIR \
            or folder.is_symlink() or not (folder / "manifest.json").is_file():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{run!r} is not a run folder of this backend's runs "
                                                   f"folder {root}")
    files: list[RunFile] = []
    for current, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            if is_bookkeeping(name):
                continue
            path = Path(current) / name
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            files.append(RunFile(path=PurePosixPath(path.relative_to(folder)).as_posix(), size=info.st_size))
            if len(files) > MAX_RUN_FILES:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"the run {folder.name} holds more than {MAX_RUN_FILES} "
                                                           "files: fetch it with scp or rsync instead")
    return RunListing(run=str(folder), files=tuple(files))


def _summary(folder: Path) -> RunSummary | None:
    try:
        manifest = read_manifest(folder)
    except ProtocolError:
        return None  # not a run, or one whose manifest this img23d cannot read: nothing to import from it
    return RunSummary(path=str(folder), name=folder.name, kind=_short(manifest.kind), status=_short(manifest.status),
                      image=_short(Path(manifest.image_source).name), created=_short(manifest.created),
                      targets=tuple(t[:200] for t in manifest.targets[:64]), done=len(manifest.done))


def _short(value: Any) -> str:
    return value[:200] if isinstance(value, str) else ""
