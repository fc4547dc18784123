"""A run folder's ``manifest.json``: what a job was asked, how far it got and what it made.

The backend's run folder (``runs/folders.py``, the one place that writes run folders) keeps a
``Manifest`` and writes it with ``manifest_text``; every reader (Re-layout, Regenerate, the run
list, batch records, the add-on's Import Run and Re-layout, the client's layout) opens it with
``read_manifest``, which trusts nothing: a file that is missing, larger than ``MAX_RUN_JSON_BYTES`` (not read,
by ``read_run_file``, which the print's reader of ``relayout.json`` uses too), not JSON, of wrong types, or written
by a newer img23d (``format`` above ``MANIFEST_FORMAT``) is one sentence (``ProtocolError``), never a
``KeyError``. Keys an older img23d left out take their defaults (a run from the first release, with
no ``pid``, ``scene``, ``warnings`` or per-target depth and placement, still opens: its objects are
then laid out by their boxes alone); keys a newer img23d of the same format added are ignored.

``image``, ``options``, ``models``, ``scene`` and the lists of errors and warnings stay objects: each
is owned by the code that writes it (the picture reader, ``JobOptions``, the model set, the layout).
What readers need from them comes through the checked properties here, not by key.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .bounded_read import FileTooLarge, NotAFile, read_bounded
from .errors import ErrorCode, ProtocolError
from .layout_floor import measured
from .plain import NotPlainJSON, dumps, finite_number, loads
from .result_fields import items, mapping, number, refuse, text, whole
from .run_record import TargetRecord, records_from

MANIFEST_FORMAT = 1               # raised only when a reader of this format could no longer read a new manifest
MANIFEST_NAME = "manifest.json"
# The most a run's own JSON file (its manifest, ``relayout.json``) may be: a run of 1,024 objects writes 2 to
# 3 MB. A hostile 200 MB one, read whole and parsed, took 2.5 GB of memory.
MAX_RUN_JSON_BYTES = 16 * 1024 ** 2
_WHAT = "the run manifest"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class Manifest:
    job_id: str
    kind: str                                   # generate, regenerate, detect, suggest, retexture, retopo
    backend_version: str
    format: int = MANIFEST_FORMAT
    status: str = "running"                     # running, finished, failed, cancelled, interrupted
    pid: int | None = field(default_factory=os.getpid)  # the backend that ran it: tells a crash from a live job
    # The machine it ran on: its pid means something there only (a runs folder shared by two machines).
    host: str = field(default_factory=socket.gethostname)
    # Set by the backend that writes the run (its ``runs/owner.py``), so that another one sharing the runs folder
    # can tell a live job: where its pid names one process (the boot id and pid namespace: two machines or
    # containers of one host name differ there), the process's start time (a pid given out again has another),
    # and how often it renews the run folder's modification time while the job runs (None: an older img23d).
    pid_space: str = ""
    pid_started: float | None = None
    lease_seconds: float | None = None
    created: str = field(default_factory=_now)
    finished: str | None = None
    image: dict[str, Any] = field(default_factory=dict)  # source, copy, sha256, size, original_size, scale...
    targets: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # the job's JobOptions
    device: str = ""
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    memory_peaks: dict[str, int] = field(default_factory=dict)
    model_counters: dict[str, Any] = field(default_factory=dict)
    # Page-locked RAM that offloaded models held during the job: {"peak": bytes, "end": bytes}.
    pinned_host_bytes: dict[str, int] = field(default_factory=dict)
    records: list[TargetRecord] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # What the job noticed and went on with ({"stage", "code", "message", ...}): a grounding answer
    # cut off by its token budget, a model that started repeating itself.
    warnings: list[dict[str, Any]] = field(default_factory=list)
    scene: dict[str, Any] = field(default_factory=dict)  # the depth map, layout settings and camera
    # One sentence each when the job went on without a stage's model (stages/skips.py): why the
    # meshes are untextured, why the objects are placed by their boxes.
    texture_skipped: str | None = None
    depth_skipped: str | None = None
    materials_skipped: str | None = None        # why the painted objects have no material maps
    source_run: str | None = None               # a regeneration's Generate run (jobs/regenerate.py)

    def to_dict(self) -> dict[str, Any]:
        data = {**{f.name: getattr(self, f.name) for f in fields(self)},
                "records": [record.to_dict() for record in self.records]}
        if not self.host:  # a run from before the host was kept: written back as it was read
            del data["host"]
        if self.lease_seconds is None:  # nor the owner's lease: an older img23d's run, closed here
            for key in ("pid_space", "pid_started", "lease_seconds"):
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        """A manifest another process wrote, every field checked; ``ProtocolError`` (one sentence) for
        one that is not a run manifest or that a newer img23d wrote."""
        data = whole(_WHAT, data)
        check_format(data)
        if not isinstance(data.get("records"), list):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{_WHAT} has no list of records")
        objects = {key: mapping(data, _WHAT, key, {}) for key in (
            "image", "options", "models", "timings", "memory_peaks", "model_counters", "pinned_host_bytes", "scene")}
        sentences = {key: text(data, _WHAT, key, None)
                     for key in ("finished", "texture_skipped", "depth_skipped", "materials_skipped", "source_run")}
        return cls(job_id=text(data, _WHAT, "job_id", ""), kind=text(data, _WHAT, "kind", ""),
                   backend_version=text(data, _WHAT, "backend_version", ""), format=number(data, _WHAT, "format", 1),
                   status=text(data, _WHAT, "status", "running"), pid=number(data, _WHAT, "pid", None),
                   host=text(data, _WHAT, "host", ""), pid_space=text(data, _WHAT, "pid_space", ""),
                   pid_started=number(data, _WHAT, "pid_started", None, whole_number=False),
                   lease_seconds=number(data, _WHAT, "lease_seconds", None, whole_number=False),
                   created=text(data, _WHAT, "created", ""), targets=_names(data),
                   device=text(data, _WHAT, "device", ""),
                   records=records_from(data, _WHAT), errors=_entries(data, "errors"),
                   warnings=_entries(data, "warnings"), **objects, **sentences)

    # -- what readers need from the objects other code owns, checked ------------------------------

    @property
    def original_size(self) -> tuple[int, int] | None:
        """The picture's width and height as the artist sees it; None before the job read it."""
        size = self.image.get("original_size")
        if isinstance(size, list) and len(size) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
            return size[0], size[1]
        return None

    @property
    def image_source(self) -> str:
        """The picture's path as the job was given it ("" when it has none)."""
        source = self.image.get("source")
        return source if isinstance(source, str) else ""

    @property
    def fov_estimate(self) -> float | None:
        """The field of view the depth model estimated from the picture, in degrees; None without one."""
        depth = self.scene.get("depth")
        value = depth.get("fov_estimate") if isinstance(depth, dict) else None
        return float(value) if finite_number(value) else None

    @property
    def depth_metric(self) -> bool:
        """Whether the run's depth model measured metres (its map's kind "metric"): its layout keeps the distances
        as measured (``layout.LayoutSettings.metric``); a relative map, or none, puts the nearest object at 4 m."""
        depth = self.scene.get("depth")
        return isinstance(depth, dict) and depth.get("kind") == "metric"

    @property
    def measured_floor(self) -> tuple[float, float] | None:
        """The floor the depth model's points gave (``scene.floor``: pitch in radians, elevation in metres), checked
        as ``layout.LayoutSettings.floor`` wants it; None without one (a relative map, an older run)."""
        floor = self.scene.get("floor")
        if not isinstance(floor, dict):
            return None
        return measured((floor.get("pitch"), floor.get("elevation")))

    @property
    def layout_used(self) -> dict[str, Any]:
        """The layout settings the job placed its objects with (fov_degrees, ground...), or {}."""
        used = self.scene.get("layout")
        return used if isinstance(used, dict) else {}

    def option(self, key: str, default: Any) -> Any:
        """The job's option ``key`` when it has the type of ``default`` (a number for a float), else ``default``."""
        value = self.options.get(key)
        if isinstance(default, bool) or isinstance(value, bool):
            return value if isinstance(value, bool) and isinstance(default, bool) else default
        if isinstance(default, float):
            return float(value) if finite_number(value) else default
        return value if isinstance(value, type(default)) else default

    @property
    def model_ids(self) -> dict[str, str]:
        """role -> the id of the model that played it."""
        return {role: str(entry.get("id", "")) for role, entry in self.models.items() if isinstance(entry, dict)}

    @property
    def with_variations(self) -> bool:
        """A run made with variations: its meshes are candidates to choose from."""
        return self.option("variations", 0) > 1

    @property
    def done(self) -> list[TargetRecord]:
        """The records of the objects it finished (done, with a mesh), in its order."""
        return [record for record in self.records if record.status == "done" and record.mesh]


def _names(data: dict[str, Any]) -> list[str]:
    names = items(data, _WHAT, "targets", [])
    if not all(isinstance(name, str) for name in names):
        raise refuse(_WHAT, "targets", "is not a list of names")
    return names


def _entries(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    entries = items(data, _WHAT, key, [])
    if not all(isinstance(entry, dict) for entry in entries):
        raise refuse(_WHAT, key, "is not a list of objects")
    return entries


def check_format(data: dict[str, Any]) -> None:
    """Refuse, in one sentence, a manifest a newer img23d wrote in a format this one cannot read."""
    found = data.get("format", 1)
    if isinstance(found, bool) or not isinstance(found, int):
        raise refuse(_WHAT, "format", "is not a whole number")
    if found > MANIFEST_FORMAT:
        version = data.get("backend_version")
        by = f"img23d {version}" if isinstance(version, str) and len(version) <= 40 else "a newer img23d"
        raise ProtocolError(ErrorCode.VERSION_MISMATCH,
                            f"this run was written by {by} in run format {found}, which this img23d (run format "
                            f"{MANIFEST_FORMAT}) cannot read: update the add-on and the backend to open it")


def unknown_keys(data: dict[str, Any]) -> list[str]:
    """The keys of a manifest's data that this img23d does not know (a newer one added them)."""
    known = {f.name for f in fields(Manifest)}
    return [key for key in data if key not in known]


def manifest_text(manifest: Manifest) -> str:
    """The manifest as its file holds it: plain JSON, indented by two, with a final newline."""
    return dumps(manifest.to_dict(), indent=2) + "\n"


def manifest_path(path: Path) -> Path:
    """The manifest of ``path``: the file itself (a file, or one named ``manifest.json``), else the
    ``manifest.json`` in the run folder ``path`` (which may not exist: then that is what is missing)."""
    path = Path(path)
    return path if path.name == MANIFEST_NAME or path.is_file() else path / MANIFEST_NAME


def read_run_file(path: Path, most: int = MAX_RUN_JSON_BYTES) -> bytes:
    """The bytes of a run's JSON file, of at most ``most``, read as every file from elsewhere is
    (``bounded_read``): ``FileTooLarge`` beyond, with no more than ``most`` + 1 bytes read; ``NotAFile`` for a
    pipe, a device or a folder in its place (a pipe once held the reader until something wrote to it)."""
    return read_bounded(path, most).data


def _unreadable(path: Path, problem: str) -> str:
    """One sentence: the run folder (or, for a file picked by another name, the file) and what is wrong."""
    where = manifest_path(path)
    if where.name != MANIFEST_NAME:
        return f"{where} is not an img23d run manifest: it {problem}"
    return f"{where.parent} is not a run folder img23d can read: its {where.name} {problem}"


def read_manifest_data(path: Path) -> dict[str, Any]:
    """The manifest's JSON object, unchecked but for being one: for the few readers that rewrite it as
    it stands (the backend's recovery pass). ``ProtocolError`` for a file that cannot be read."""
    where = manifest_path(path)
    try:
        data = loads(read_run_file(where).decode("utf-8"))
    except FileTooLarge as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, _unreadable(path, f"is larger than the "
                                                                     f"{MAX_RUN_JSON_BYTES // 1024 ** 2} MB any run "
                                                                     "writes, so it is not read")) from exc
    except NotAFile as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, _unreadable(path, f"is {exc.kind}, not a file")) from exc
    except OSError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, _unreadable(path, f"is missing or cannot be read "
                                                                     f"({exc.strerror or exc})"), str(exc)) from exc
    except NotPlainJSON as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, _unreadable(path, str(exc))) from exc
    except ValueError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, _unreadable(path, "is not JSON"), str(exc)) from exc
    except RecursionError as exc:  # brackets nested past the decoder's depth: a traceback in every reader
        raise ProtocolError(ErrorCode.BAD_REQUEST, _unreadable(path, "nests too deep to be a manifest")) from exc
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, _unreadable(path, "holds no JSON object"))
    return data


def read_manifest(path: Path) -> Manifest:
    """The run's manifest (``path`` is the manifest or its folder), every field checked. Raises
    ``ProtocolError`` with one sentence that names the folder (``version_mismatch`` for a newer img23d's)."""
    data = read_manifest_data(path)
    try:
        return Manifest.from_dict(data)
    except ProtocolError as exc:
        if exc.code is ErrorCode.VERSION_MISMATCH:
            raise ProtocolError(exc.code, f"{manifest_path(path).parent}: {exc.message}") from None
        raise ProtocolError(exc.code, _unreadable(path, f"is damaged: {exc.message}")) from None
