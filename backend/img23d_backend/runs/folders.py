"""The run folder: the only code that writes a job's files.

Each job gets its own folder, ``<runs dir>/<UTC timestamp>-<image stem>``, never reused (a clash gets
``-2``, ``-3``...). The manifest is rewritten atomically after every stage, so a job that stops half
way (failure, cancel, killed process) leaves a folder whose ``manifest.json`` says how far it got.
Target names become file names only through ``safe_stem``; every path is checked to stay inside it.

Every ending closes the manifest, even on a full disk: each running job keeps a small
preallocated reserve file, and the final manifest is written into those blocks (no new
space needed) when an ordinary write finds no room (``reserve.py``). Leftovers of writes cut short by a
killed process (``.tmp-*``) and reserves of dead jobs are removed by ``recover_interrupted``. Each manifest
names its job's backend, and the folder's lease is renewed while the job runs, so that a backend sharing
the runs folder, here or on another machine, tells a dead job from a live one (``owner.py``, ``lease.py``);
and a job never writes over a manifest that another process closed meanwhile.

Files a remote add-on uploads (``<runs dir>/_uploads/``, ``service/transfers.py``) are inputs, not
run folders: they never hold a manifest this module wrote, and the recovery pass, which reads
only ``<runs dir>/*/manifest.json``, never reaches them (an upload is two levels down).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import threading
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

# Manifest and TargetRecord are the protocol's (run_manifest, run_record): the jobs take them from here,
# the module that writes run folders; every reader takes them from the protocol.
from img23d_protocol import (RUN_TEMP_PREFIX, ErrorCode, Manifest, ProtocolError,  # noqa: F401
                             TargetRecord, dumps, manifest_text, own_folders, read_manifest_data, unknown_keys)

from ..env import failpoints
from . import reserve
from .disk_errors import check_room, disk_error, short_write_cause
from .lease import LEASES
from .owner import Owner
from .reserve import RESERVE_MIN_BYTES, RESERVE_NAME
from .stems import safe_stem, variation_stem

# Pillow's options for every PNG img23d writes: zlib level 1, run-length strategy (why: ``gltf.writer``).
QUICK_PNG = {"compress_level": 1, "compress_type": zlib.Z_RLE}

log = logging.getLogger(__name__)

TMP_PREFIX = RUN_TEMP_PREFIX
PICTURE_FILE = "input.png"        # the run's picture: the artist's, copied, or the one made from a prompt
# mkstemp creates files readable by the owner only; run files are the user's ordinary files.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


class RunFolder:
    """One job's folder. Create with ``RunFolder.create``; write only through its methods."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self._stems: set[str] = set()
        self._readers = 0o777  # the read bits every file of the run keeps at most: its input's (keep_private)
        # The job's thread and a closing thread (server exit, a signal): one write at a time, none after the last.
        self._manifest_lock = threading.RLock()
        self.closed = False

    @classmethod
    def create(cls, runs_dir: Path, label: str, manifest: Manifest) -> "RunFolder":
        """A new run folder in ``runs_dir``, named by its time stamp and ``label`` (the job's ``folder_label``: a
        picture's name without its suffix, "chair.low-retopo"; its suffix was taken off here, and with it
        ".low-retopo")."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{safe_stem(label)[:40]}"
        if runs_dir.exists() and not runs_dir.is_dir():
            raise ProtocolError(ErrorCode.DISK, f"cannot create a run folder in {runs_dir}: it is a file, "
                                                "not a folder")
        me = Owner.me()  # whose job it is: a backend sharing the runs folder leaves a live one alone
        manifest.pid, manifest.host, manifest.pid_space = me.pid, me.host, me.pid_space
        manifest.pid_started, manifest.lease_seconds = me.started, me.lease
        run = cls(new_run_dir(runs_dir, base), manifest)
        candidate = run.root
        LEASES.hold(candidate)  # until ``finish``
        try:
            run._reserve(RESERVE_MIN_BYTES, required=True)
        except OSError as exc:  # not even 1 MiB free: nothing could say how this job ended
            LEASES.release(candidate)
            shutil.rmtree(candidate, ignore_errors=True)
            raise disk_error(exc, f"cannot create a run folder in {runs_dir}") from exc
        try:
            run.save_manifest()
        except ProtocolError as exc:
            run.manifest.errors.append({"code": exc.code.value, "message": exc.message, "detail": exc.detail})
            try:
                run.finish("failed")  # through the reserve: the folder says why the job never started
            except ProtocolError:  # not even that: an empty folder would only puzzle whoever finds it
                LEASES.release(candidate)
                shutil.rmtree(candidate, ignore_errors=True)
            raise exc
        return run

    def keep_private(self, like: int) -> None:
        """Narrow the folder to the readers of an input of permissions ``like``: every crop, texture and
        mesh in it shows what that input shows, so a picture only its owner may read makes a run only its
        owner may open (the folder's own bits; the copies of the input itself narrow to ``copy_mode``)."""
        self._readers &= like  # and every file and folder written after: crops and cut-outs were 644 in 755
        try:
            mode = stat.S_IMODE(self.root.stat().st_mode)
            os.chmod(self.root, mode & folder_mode(like))
        except OSError as exc:
            raise disk_error(exc, f"cannot set who may read {self.root}") from exc

    def claim_stem(self, stem: str) -> str:
        """Take ``stem`` as it is (a regeneration keeps its object's stem); refuses one taken."""
        if stem.casefold() in self._stems or Path(stem).name != stem or stem.startswith("."):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{stem!r} cannot name an object in this run")
        self._stems.add(stem.casefold())
        return stem

    def unique_stem(self, target: str, instance: int, variation: int = 1) -> str:
        """A stem for one target instance (and one of its variations), distinct from every other in this run."""
        stem = safe_stem(target) if instance == 1 else f"{safe_stem(target)}-{instance}"
        stem = variation_stem(stem, variation)
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

    def write_bytes_with(self, relative: str, writer: Callable[[Path], None], like: int = 0o777,
                         size: int | None = None) -> Path:
        """Write a file via ``writer(tmp_path)``, then move it into place: never a half file. ``like``: the
        permission bits of the file it copies, so the copy is readable by no more people than its source.
        ``size``: the bytes it will take, checked against the disk's free space first (``check_room``)."""
        path = self.path(relative)
        inside = path.relative_to(self.root.resolve()).parents
        missing = [self.root / folder for folder in reversed(inside)
                   if folder.parts and not (self.root / folder).exists()]
        try:
            for folder in missing:  # a private input's run: each no more open than it (crops/ were 755)
                folder.mkdir(mode=0o777 if self._readers == 0o777 else folder_mode(self._readers), exist_ok=True)
        except OSError as exc:
            raise disk_error(exc, f"cannot create {missing[0]}") from exc
        return atomic_write(path, writer, like & self._readers, size)

    def copy_in(self, relative: str, source: Path | str) -> Path:
        """A copy of the artist's file ``source`` kept in the run, readable by no more people than it is
        (and the folder narrowed to them: ``keep_private``)."""
        try:
            like = stat.S_IMODE(os.stat(source).st_mode)
        except OSError as exc:
            raise disk_error(exc, f"cannot read {source}") from exc
        self.keep_private(like)
        return self.write_bytes_with(relative, lambda p: shutil.copyfile(source, p), like)

    def write_json(self, relative: str, data: Any) -> Path:
        text = dumps(data, indent=2)
        return self.write_bytes_with(relative, lambda p: p.write_text(text + "\n", encoding="utf-8"))

    def write_image(self, relative: str, image: Any, like: int = 0o777) -> Path:
        return self.write_bytes_with(relative, lambda p: image.save(p, format="PNG", **QUICK_PNG), like)

    def save_manifest(self) -> Path:
        """Rewrite the manifest as the job stands; after ``finish`` it never changes again."""
        with self._manifest_lock:
            path = self.path("manifest.json")
            if self.closed:
                return path
            self._check_still_open()
            text = self._manifest_text()
            self._reserve(2 * len(text.encode("utf-8")))  # room to close it, whatever comes
            self.write_bytes_with("manifest.json", lambda p: p.write_text(text, encoding="utf-8"))
            return path

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def finish(self, status: str) -> None:
        """Close the manifest with a final status, even when the disk has no free byte left."""
        with self._manifest_lock:
            if self.closed:
                return
            self._check_still_open()
            self.manifest.status = status
            self.manifest.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
            try:
                self.write_bytes_with("manifest.json", lambda p: p.write_text(self._manifest_text(),
                                                                              encoding="utf-8"))
            except ProtocolError as exc:
                if not self._write_into_reserve():
                    raise
                log.warning("%s: the final manifest went into the reserved space (%s)", self.root, exc.message)
            self.closed = True
            self._release_reserve()
            LEASES.release(self.root)

    def close_with(self, status: str, error: dict[str, Any]) -> None:
        """``finish`` with ``error`` recorded in the manifest, unless it is closed already: a job's own ending
        and a signal's watcher (which closes a run that did not stop in time) may both try, and the first says."""
        with self._manifest_lock:
            if self.closed:
                return
            self.manifest.errors.append(error)
            self.finish(status)

    def _check_still_open(self) -> None:
        """Refuse to write over a manifest that another process closed while this job ran (a backend sharing
        the runs folder that took it for a dead one's, from an img23d before ``owner.py``): it now says how
        the run ended, and a later "finished" would say otherwise. The job stops; its files stay."""
        try:
            status = read_manifest_data(self.root / "manifest.json").get("status", "running")
        except ProtocolError:
            return  # none yet (a new run), or not one a reader could use: this job's own is better
        if status == "running":
            return
        self.closed = True
        self._release_reserve()
        LEASES.release(self.root)
        raise ProtocolError(ErrorCode.DISK, f"another process closed this run's manifest as {status!r} while the "
                                            f"job ran (a backend on another machine sharing the runs folder?): "
                                            f"the job stops, and what it made stays in {self.root}")

    # -- the reserve: room for the final manifest when the disk is full -----------------------------

    def _manifest_text(self) -> str:
        return manifest_text(self.manifest)

    def _reserve(self, size: int, required: bool = False) -> None:
        reserve.grow(self.root, size, required)

    def _write_into_reserve(self) -> bool:
        return reserve.write_into(self.root, self._manifest_text().encode("utf-8"), self.root / "manifest.json",
                                  _FILE_MODE)

    def _release_reserve(self) -> None:
        reserve.release(self.root)


def new_run_dir(runs_dir: Path, base: str) -> Path:
    """Make and return a new, empty folder ``<runs_dir>/<base>`` (``-2``, ``-3``... on a clash)."""
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 1000):
            candidate = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
            try:
                candidate.mkdir()  # not exist_ok: an existing folder is never reused
            except FileExistsError:
                continue
            return candidate
    except OSError as exc:
        raise disk_error(exc, f"cannot create a run folder in {runs_dir}") from exc
    raise ProtocolError(ErrorCode.DISK, f"could not find a free run folder name in {runs_dir}")


def atomic_write(final: Path, writer: Callable[[Path], None], like: int = 0o777, size: int | None = None) -> Path:
    """Write ``final`` via ``writer(tmp_path)`` beside it, then move it into place: never a half file.
    Its permissions are the user's ordinary ones, narrowed to ``like`` (a copied source's bits).
    ``size`` (bytes), when known: refused before the first byte if the disk has not room for it."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if size is not None:
            check_room(final.parent, size, final)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=TMP_PREFIX, suffix=final.suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            failpoints.hit("write")
            failpoints.hit("write" + final.suffix)  # e.g. "write.glb": fill the disk at export
            try:
                writer(tmp)
            except OSError as exc:
                # Asked now, while the half-written file still holds the disk's last blocks.
                cause = short_write_cause(exc, final.parent, tmp)
                if cause is None:
                    raise
                raise cause from exc
            os.chmod(tmp, copy_mode(like))
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                tmp.unlink()
    except OSError as exc:
        raise disk_error(exc, f"cannot write {final}") from exc
    return final


def folder_mode(like: int) -> int:
    """The bits a folder keeps for the readers of a file of permissions ``like``: a group or the others
    who may not read the file may not list or enter the folder either; the owner keeps everything."""
    return 0o700 | (0o050 if like & 0o040 else 0) | (0o005 if like & 0o004 else 0)


def copy_mode(like: int) -> int:
    """The permission bits of a run file that holds what a file of permissions ``like`` holds: the user's
    ordinary ones, less every read or write right the source does not grant (a mode-600 key given as a
    view stays the owner's alone). The owner keeps read and write: the run is theirs to open and delete."""
    return _FILE_MODE & (like | 0o600)


INTERRUPTED_MESSAGE = ("the backend stopped while this job ran (killed, crashed or out of memory); "
                       "the files it finished are kept")


def recover_interrupted(runs_dir: Path) -> list[Path]:
    """Mark runs left "running" by a backend that no longer exists as "interrupted", and remove what
    killed writes left behind in every run that no live backend is writing. A killed backend cannot
    write its own epitaph; the next one writes it, so every run folder ends with a manifest that says
    what happened. Returns the folders it marked."""
    marked: list[Path] = []
    if not runs_dir.is_dir():
        return marked
    for manifest_path in runs_dir.glob("*/manifest.json"):
        try:
            data = read_manifest_data(manifest_path)
        except ProtocolError:
            continue  # unreadable manifests are left exactly as they are
        running = data.get("status") == "running"
        # A live job here, or on another machine (or container) sharing the runs folder, whose pid means nothing
        # here: marked interrupted, its reserve and writes in progress were removed under it (``owner.py``).
        if running and not Owner.recorded(data).gone(manifest_path.parent):
            continue  # its temporary files are its own
        # The reserve of a dead run stays until its manifest is closed: it may be the only room.
        remove_leftovers(manifest_path.parent, keep_reserve=running)
        if not running:
            continue
        if unknown_keys(data):
            continue  # a newer img23d's manifest: rewritten here, what it added would be lost
        try:
            run = RunFolder(manifest_path.parent, Manifest.from_dict(data))
        except ProtocolError:
            continue  # a newer format, or one this img23d cannot read: not ours to rewrite
        run.manifest.errors.append({"code": "backend_unavailable", "message": INTERRUPTED_MESSAGE})
        try:
            run.finish("interrupted")
        except ProtocolError as exc:
            log.warning("could not mark %s as interrupted: %s", run.root, exc)
            continue
        marked.append(run.root)
    return marked


def remove_leftovers(root: Path, keep_reserve: bool = False) -> list[Path]:
    """Delete the temporary files of writes that never finished (``.tmp-*``, from a process killed mid-write)
    and, unless ``keep_reserve``, the reserve file, anywhere in the run ``root`` but the runs inside it (links
    not followed); returns them."""
    removed: list[Path] = []
    for folder, files in own_folders(root):
        for name in files:
            if name.startswith(TMP_PREFIX) or (name == RESERVE_NAME and not keep_reserve):
                path = folder / name
                try:
                    path.unlink()
                except OSError as exc:
                    log.warning("could not remove %s: %s", path, exc)
                    continue
                removed.append(path)
    return removed
