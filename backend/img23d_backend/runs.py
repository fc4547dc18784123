"""The run folder: the only code that writes a job's files.

Each job gets its own folder, ``<runs dir>/<UTC timestamp>-<image stem>``, never reused
(a clash gets ``-2``, ``-3``...). The manifest is rewritten atomically after every stage,
so a job that stops half way (failure, cancel, killed process) leaves a folder whose
``manifest.json`` says how far it got. Target names become file names only through
``safe_stem``; every path is checked to stay inside the folder.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import failpoints
from .protocol import ErrorCode, ProtocolError, dumps

MANIFEST_FORMAT = 1
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}
_MAX_STEM = 60
# mkstemp creates files readable by the owner only; run files are the user's ordinary files.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def safe_stem(name: str) -> str:
    """A file-name stem for a target name: no separators, no dots in front, portable everywhere.

    Readable names stay readable ("red barrel" -> "red_barrel"); a name that lost anything but
    spaces, or was shortened, gets a short hash so that two such names never share a stem.
    (Within one run ``RunFolder.unique_stem`` also separates "red barrel" from "red_barrel".)
    """
    normal = unicodedata.normalize("NFKC", name).strip()
    stem = re.sub(r"[^\w\-]+", "_", normal, flags=re.UNICODE).strip("._-")
    stem = re.sub(r"_+", "_", stem)
    if not stem:
        stem = "target"
    if stem.casefold() in _WINDOWS_RESERVED:
        stem = f"{stem}_"
    # Compared with the name as the protocol sees it (NFC, trimmed), not after NFKC: NFKC folds
    # different names together ("\uff21" and "A", "\ufb01" and "fi"), and those need the hash.
    # Spaces becoming underscores loses nothing a reader needs, so it alone adds no hash.
    changed = stem != re.sub(r"\s+", "_", unicodedata.normalize("NFC", name).strip())
    if len(stem) > _MAX_STEM:
        stem = stem[:_MAX_STEM].rstrip("._-")
        changed = True
    if changed:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
        stem = f"{stem}-{digest}"
    return stem


@dataclass
class TargetRecord:
    """What became of one target instance; ``status`` is pending, done or failed."""

    target: str
    instance: int = 1
    stem: str = ""
    status: str = "pending"
    box: list[float] | None = None
    score: float | None = None
    seed: int | None = None
    crop: str | None = None
    matte: str | None = None
    mesh: str | None = None
    faces: int | None = None
    vertices: int | None = None
    textured: bool = False
    error: dict[str, str] | None = None
    depth: dict[str, Any] | None = None       # its depth statistic (stages/depth.DepthStat), once measured
    placement: dict[str, Any] | None = None   # where its mesh stands (layout.Placement), once written


@dataclass
class Manifest:
    job_id: str
    kind: str                                   # "generate" or "detect"
    backend_version: str
    format: int = MANIFEST_FORMAT
    status: str = "running"                     # running, finished, failed, cancelled, interrupted
    pid: int = field(default_factory=os.getpid)  # the backend that ran it: tells a crash from a live job
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    finished: str | None = None
    image: dict[str, Any] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    memory_peaks: dict[str, int] = field(default_factory=dict)
    model_counters: dict[str, Any] = field(default_factory=dict)
    records: list[TargetRecord] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    scene: dict[str, Any] = field(default_factory=dict)  # the depth map, layout settings and camera

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        data = dict(data)
        data["records"] = [TargetRecord(**r) for r in data.get("records", [])]
        return cls(**data)


class RunFolder:
    """One job's folder. Create with ``RunFolder.create``; write only through its methods."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self._stems: set[str] = set()

    @classmethod
    def create(cls, runs_dir: Path, image_name: str, manifest: Manifest) -> "RunFolder":
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{safe_stem(Path(image_name).stem)[:40]}"
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 1000):
                candidate = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
                try:
                    candidate.mkdir()  # not exist_ok: an existing folder is never reused
                except FileExistsError:
                    continue
                run = cls(candidate, manifest)
                run.save_manifest()
                return run
        except OSError as exc:
            raise disk_error(exc, f"cannot create a run folder in {runs_dir}") from exc
        raise ProtocolError(ErrorCode.DISK, f"could not find a free run folder name in {runs_dir}")

    def unique_stem(self, target: str, instance: int) -> str:
        """A stem for one target instance, distinct from every other in this run."""
        stem = safe_stem(target) if instance == 1 else f"{safe_stem(target)}-{instance}"
        candidate, n = stem, 2
        while candidate.casefold() in self._stems:
            candidate, n = f"{stem}_{n}", n + 1
        self._stems.add(candidate.casefold())
        return candidate

    def path(self, relative: str) -> Path:
        """The absolute path for a file in this run; refuses anything that would leave it."""
        target = (self.root / relative).resolve()
        root = self.root.resolve()
        if target != root and root not in target.parents:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"path {relative!r} would leave the run folder")
        return target

    def write_bytes_with(self, relative: str, writer: Callable[[Path], None]) -> Path:
        """Write a file via ``writer(tmp_path)``, then move it into place: never a half file."""
        final = self.path(relative)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-", suffix=final.suffix)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                failpoints.hit("write")
                failpoints.hit("write" + final.suffix)  # e.g. "write.glb": fill the disk at export
                writer(tmp)
                os.chmod(tmp, _FILE_MODE)
                os.replace(tmp, final)
            finally:
                if tmp.exists():
                    tmp.unlink()
        except OSError as exc:
            raise disk_error(exc, f"cannot write {final}") from exc
        return final

    def write_json(self, relative: str, data: Any) -> Path:
        text = dumps(data, indent=2)
        return self.write_bytes_with(relative, lambda p: p.write_text(text + "\n", encoding="utf-8"))

    def write_image(self, relative: str, image: Any) -> Path:
        return self.write_bytes_with(relative, lambda p: image.save(p, format="PNG"))

    def save_manifest(self) -> Path:
        return self.write_json("manifest.json", asdict(self.manifest))

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def finish(self, status: str) -> None:
        self.manifest.status = status
        self.manifest.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.save_manifest()


def disk_error(exc: OSError, message: str) -> ProtocolError:
    """Turn an OSError from writing into a ``disk`` error whose message names the cause."""
    reasons = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
               errno.EROFS: "the disk is read-only", errno.EDQUOT: "the disk quota is used up"}
    reason = reasons.get(exc.errno, exc.strerror or type(exc).__name__)
    return ProtocolError(ErrorCode.DISK, f"{message}: {reason}", str(exc))



INTERRUPTED_MESSAGE = ("the backend stopped while this job ran (killed, crashed or out of memory); "
                       "the files it finished are kept")


def recover_interrupted(runs_dir: Path) -> list[Path]:
    """Mark runs left "running" by a backend that no longer exists as "interrupted".

    A killed backend cannot write its own epitaph; the next one writes it, so every run folder
    ends with a manifest that says what happened. Returns the folders it marked.
    """
    import psutil

    marked: list[Path] = []
    if not runs_dir.is_dir():
        return marked
    for manifest_path in runs_dir.glob("*/manifest.json"):
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unreadable manifests are left exactly as they are
        if not isinstance(data, dict) or data.get("status") != "running":
            continue
        pid = data.get("pid")
        if isinstance(pid, int) and (pid == os.getpid() or psutil.pid_exists(pid)):
            continue
        try:
            run = RunFolder(manifest_path.parent, Manifest.from_dict(data))
        except TypeError:
            continue  # a manifest from another format version: not ours to rewrite
        run.manifest.errors.append({"code": "backend_unavailable", "message": INTERRUPTED_MESSAGE})
        try:
            run.finish("interrupted")
        except ProtocolError as exc:
            logging.getLogger(__name__).warning("could not mark %s as interrupted: %s", run.root, exc)
            continue
        marked.append(run.root)
    return marked
