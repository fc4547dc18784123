"""The backend's runs, listed for an add-on on another machine (1.9; the ``runs`` request).

Import Run from the host asks for the list of runs (newest first, at most ``MAX_RUNS_LISTED``),
the artist picks one, and the add-on asks for that run's files (at most ``MAX_RUN_FILES``), which
it then fetches one by one into a fresh local folder (``run_import``). Both answers come from the
other machine: the ``from_dict`` readers here check every field (types, lengths, sizes, names:
a run's file list through ``run_import.check_run_files``) before anything uses it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ErrorCode, ProtocolError
from .run_import import check_run_files
from .transfer import MAX_FILE_BYTES, check_file_name

MAX_RUNS_LISTED = 200         # the newest runs; older ones stay on the host, listed by a shell there
_MAX_TEXT = 512               # a name, an image's name or a time, as shown in a list


def _refuse(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, message)


def _text(data: dict[str, Any], key: str, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > _MAX_TEXT or (required and not value):
        raise _refuse(f"a run listing's {key!r} is not a short string")
    return value


def _count(data: dict[str, Any], key: str, limit: int) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise _refuse(f"a run listing's {key!r} is not a whole number from 0 to {limit}")
    return value


@dataclass(frozen=True)
class RunSummary:
    """One run folder of the backend, as a list shows it."""

    path: str = ""                     # the folder on the backend (under its runs folder)
    name: str = ""                     # the folder's name: <time>-<picture>
    kind: str = ""                     # generate, retexture, ...
    status: str = ""                   # running, finished, failed, cancelled, interrupted
    image: str = ""                    # the picture's file name
    created: str = ""                  # ISO time
    targets: tuple[str, ...] = ()
    done: int = 0                      # finished meshes

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["targets"] = list(self.targets)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "RunSummary":
        if not isinstance(data, dict):
            raise _refuse("a run listing's entry must be an object")
        targets = data.get("targets", [])
        if not isinstance(targets, list) or len(targets) > 64 or \
                not all(isinstance(t, str) and len(t) <= _MAX_TEXT for t in targets):
            raise _refuse("a run listing's 'targets' is not a short list of names")
        name = _text(data, "name", required=True)
        check_file_name(name)
        return cls(path=_text(data, "path", required=True), name=name, kind=_text(data, "kind"),
                   status=_text(data, "status"), image=_text(data, "image"), created=_text(data, "created"),
                   targets=tuple(targets), done=_count(data, "done", 10_000))

    @property
    def label(self) -> str:
        """One line for a menu: the picture, when, what, how it ended."""
        what = ", ".join(self.targets[:4]) + (", ..." if len(self.targets) > 4 else "")
        when = self.created.replace("T", " ")[:16]
        return f"{self.image or self.name} ({when}): {what or self.kind}, {self.done} done, {self.status}"


@dataclass(frozen=True)
class RunFile:
    """One file of a run: its path inside the run folder (POSIX, ``/``-separated) and size."""

    path: str = ""
    size: int = 0

    @classmethod
    def from_dict(cls, data: Any) -> "RunFile":
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise _refuse("a run file's entry must name a path")
        return cls(path=data["path"], size=_count(data, "size", MAX_FILE_BYTES))  # the path: see check_run_files


@dataclass(frozen=True)
class RunListing:
    """The answer to ``runs``: the runs (no ``run`` asked), or one run's files."""

    runs: tuple[RunSummary, ...] = ()
    run: str = ""
    files: tuple[RunFile, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        if self.run:
            return {"run": self.run, "files": [asdict(f) for f in self.files]}
        return {"runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, data: Any) -> "RunListing":
        if not isinstance(data, dict):
            raise _refuse("a run listing must be an object")
        if "run" in data:
            files = data.get("files")
            if not isinstance(files, list):
                raise _refuse("a run's file list must be a list")
            parsed = tuple(RunFile.from_dict(entry) for entry in files)
            # Names, sizes and totals as every run brought home is checked; leftovers of killed writes dropped.
            kept = check_run_files([(f.path, f.size) for f in parsed])
            return cls(run=_text(data, "run", required=True), files=tuple(f for f in parsed if f.path in kept))
        runs = data.get("runs")
        if not isinstance(runs, list) or len(runs) > MAX_RUNS_LISTED:
            raise _refuse(f"a run list must be a list of at most {MAX_RUNS_LISTED} entries")
        return cls(runs=tuple(RunSummary.from_dict(entry) for entry in runs))
