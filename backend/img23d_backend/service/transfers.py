"""Files over the protocol, the backend's end, for an add-on on another machine (protocol 1.8).

Uploads: the chunks of a picture (or a mesh to re-texture) land in
``<runs dir>/_uploads/<pid>-<machine>-<start time>-<random>/<sanitised name>``, and the last chunk is answered with
that path, which a job request then names. Uploads are not run folders: ``runs/folders.py`` writes
run folders (one per job, with a manifest); an upload is an input a job reads and copies into
its own run folder. They are kept apart under ``_uploads/``, which the runs recovery pass
never treats as a run, and ``clean_uploads`` removes the uploads of backends that have ended (each
folder's name says whose it is, and its owner renews its lease while it lives: ``runs/owner.py``).

Fetches: any regular file under the runs folder (symbolic links resolved, and refused when
they lead outside) is streamed as ``chunk`` events from one worker thread, so the reader loop
stays free for ``cancel``, ``status`` and more uploads while a job runs.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import secrets
import shutil
import stat
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from img23d_protocol import (MAX_FILE_BYTES, Chunk, Error, ErrorCode, FetchRequest, Message, ProtocolError, Receiver,
                             Result, UploadRequest, check_announced, decode_chunk, encode_chunk, file_digest,
                             iter_chunks)

from ..runs.lease import LEASES
from ..runs.owner import folder_gone, folder_prefix
from ..runs.stems import safe_stem

log = logging.getLogger(__name__)

UPLOADS_DIR = "_uploads"
MAX_UPLOADS_IN_FLIGHT = 8        # each holds an open file: a peer cannot open them without bound
UPLOAD_IDLE_SECONDS = 300.0      # an upload no chunk came for in this long gives its place to a new one
_REMEMBERED_FAILURES = 64        # ids whose later chunks are dropped quietly: one error answers an upload
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")


def _refuse(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, message)


def upload_name(name: str) -> str:
    """A safe file name for an uploaded file: its stem through ``safe_stem``, a plain suffix kept
    (the re-texture job reads ``.npz`` files), anything before a separator dropped."""
    base = re.split(r"[/\\]", name or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem:
        stem, suffix = base, ""
    suffix = f".{suffix}" if _SUFFIX.fullmatch(f".{suffix}") else ""
    return safe_stem(stem or "upload") + suffix.lower()


@dataclass
class _Upload:
    request: UploadRequest           # its first chunk: every later one must announce the same file
    folder: Path
    receiver: Receiver
    last_chunk: float = 0.0          # time.monotonic() of its last chunk


class Uploads:
    """The uploads in progress, by request id. Called on the reader thread only."""

    def __init__(self, runs_dir: Path) -> None:
        self.root = runs_dir / UPLOADS_DIR
        self._active: dict[str, _Upload] = {}
        self._failed: deque[str] = deque(maxlen=_REMEMBERED_FAILURES)
        self._idle: deque[str] = deque(maxlen=_REMEMBERED_FAILURES)

    def take(self, request: UploadRequest) -> Path | None:
        """Write one chunk; the file's path once its last chunk is in, None before. A refusal
        raises ``ProtocolError`` and leaves nothing behind; the upload's later chunks are dropped."""
        if not request.id:
            raise _refuse("an upload needs an id")
        if request.id in self._idle and request.offset:  # dropped while its sender was away: answered once
            self._idle.remove(request.id)
            self._failed.append(request.id)
            raise _refuse(f"upload {request.id} had no chunk for {UPLOAD_IDLE_SECONDS:.0f} s and was dropped: send "
                          "it again from its start")
        if request.id in self._failed:
            if request.offset:
                return None  # the rest of a refused upload: its one error answered it
            self._failed.remove(request.id)  # sent again from its start: a new try, answered as any upload
        upload = self._active.get(request.id)
        try:
            if upload is None:
                upload = self._start(request)
            elif (request.name, request.size, request.sha256) != (upload.request.name, upload.request.size,
                                                                  upload.request.sha256):
                raise _refuse(f"upload {request.id} changed its file's name, size or checksum midway")
            upload.receiver.write(request.offset, decode_chunk(request.data))
            upload.last_chunk = time.monotonic()
            if not request.done:
                return None
            path = upload.receiver.finish()
        except ProtocolError:
            self._drop(request.id)
            raise
        del self._active[request.id]
        log.info("upload %s: %s (%d bytes)", request.id, path, upload.receiver.size)
        return path

    def _start(self, request: UploadRequest) -> _Upload:
        if request.offset != 0:
            raise _refuse(f"upload {request.id}: a chunk at offset {request.offset} came before its first one")
        if len(self._active) >= MAX_UPLOADS_IN_FLIGHT:
            # Uploads the add-on gave up (a picture saved smaller mid-upload ended its chunks) held their place
            # for the backend's life: after eight, every upload was refused. One idle this long has ended.
            for stale in [key for key, held in self._active.items()
                          if time.monotonic() - held.last_chunk > UPLOAD_IDLE_SECONDS]:
                log.info("upload %s: no chunk for %.0f s, dropped", stale, UPLOAD_IDLE_SECONDS)
                self._drop(stale, idle=True)  # its next chunk, if one comes, is told (it waited for an answer)
        if len(self._active) >= MAX_UPLOADS_IN_FLIGHT:
            raise ProtocolError(ErrorCode.BUSY, f"{MAX_UPLOADS_IN_FLIGHT} uploads are already in progress")
        check_announced(request.size, request.sha256)
        folder = self._fresh_folder()
        try:
            receiver = Receiver(folder / upload_name(request.name), request.size, request.sha256)
        except ProtocolError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        upload = self._active[request.id] = _Upload(request, folder, receiver, time.monotonic())
        return upload

    def _fresh_folder(self) -> Path:
        """A new folder per upload, named for this process and machine (``owner.folder_prefix``), its lease held,
        so that a later backend can tell a dead one's uploads (``clean_uploads``) from a live one's."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for _ in range(100):
                folder = self.root / f"{folder_prefix()}{secrets.token_hex(6)}"
                try:
                    folder.mkdir()
                except FileExistsError:
                    continue
                LEASES.hold(folder)  # for this backend's life: a job may read it until then
                return folder
        except OSError as exc:
            raise ProtocolError(ErrorCode.DISK, f"cannot create an upload folder in {self.root}: "
                                                f"{exc.strerror or exc}", str(exc)) from exc
        raise ProtocolError(ErrorCode.DISK, f"could not find a free upload folder name in {self.root}")

    def _drop(self, upload_id: str, idle: bool = False) -> None:
        (self._idle if idle else self._failed).append(upload_id)
        upload = self._active.pop(upload_id, None)
        if upload is not None:
            upload.receiver.abort()
            shutil.rmtree(upload.folder, ignore_errors=True)
            LEASES.release(upload.folder)

    def close(self) -> None:
        """Drop every upload still in progress (the add-on went away mid-file)."""
        for upload_id in list(self._active):
            self._drop(upload_id)


def clean_uploads(runs_dir: Path) -> list[Path]:
    """Remove the upload folders of backends that are no longer running: their jobs are over,
    and each job copied what it read into its own run folder. Returns what was removed."""
    return remove_dead_pid_folders(runs_dir / UPLOADS_DIR)


def remove_dead_pid_folders(root: Path) -> list[Path]:
    """Remove the ``<pid>-...`` folders under ``root`` whose owner is gone (the uploads', the warm-up's:
    ``owner.folder_gone``): dead on this machine, or elsewhere with its lease lapsed. A live owner's, another
    machine's that is still renewed, and anything else is not ours to remove. Returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir() or root.is_symlink():
        return removed
    for folder in root.iterdir():
        if folder.is_symlink() or not folder.is_dir() or not folder_gone(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def open_run_file(runs_dir: Path, path: str) -> BinaryIO:
    """Open a regular file under ``runs_dir`` for a fetch; ``bad_request`` for anything else: a
    relative path, one outside (symbolic links followed first), a folder, a missing or huge file."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise _refuse("a fetch needs the path of a file")
    candidate = Path(path)
    if not candidate.is_absolute():
        raise _refuse(f"{path!r} is not an absolute path")
    root = runs_dir.resolve()
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise _refuse(f"no file at {path}") from exc
    if root not in real.parents:
        raise _refuse(f"{path} is not inside the runs folder {root}")
    try:
        # O_NOFOLLOW: a file swapped for a link between resolving and opening is refused too.
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise _refuse(f"cannot read {path}: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise _refuse(f"{path} is not a file" if not stat.S_ISREG(info.st_mode) else
                      f"{path} is {info.st_size} bytes, more than the {MAX_FILE_BYTES} a fetch may carry")
    handle = os.fdopen(fd, "rb")
    return handle


class Fetches:
    """Streams fetched files as ``chunk`` events, one file at a time, from its own thread."""

    def __init__(self, runs_dir: Path, send: Callable[[Message], None]) -> None:
        self.runs_dir = runs_dir
        self.send = send
        self._queue: queue.Queue[FetchRequest | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, request: FetchRequest) -> None:
        if not request.id:
            raise _refuse("a fetch needs an id")
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="fetch", daemon=True)
            self._thread.start()
        self._queue.put(request)

    def stop(self) -> None:
        """Let the worker end after what is queued (it is a daemon: the process never waits on it)."""
        if self._thread is not None:
            self._queue.put(None)

    def _work(self) -> None:
        while (request := self._queue.get()) is not None:
            try:
                self.send(self.stream(request))
            except ProtocolError as exc:
                self.send(Error.from_exception(request.id, exc))
            except Exception as exc:  # the thread's boundary: a fetch that crashed still gets an answer
                log.exception("fetch %s crashed", request.id)
                self.send(Error(id=request.id, code=ErrorCode.INTERNAL.value,
                                message=f"{type(exc).__name__}: {exc}"[:500]))

    def stream(self, request: FetchRequest) -> Result:
        """Send one file's chunks; return the ``result`` that ends the fetch."""
        with open_run_file(self.runs_dir, request.path) as handle:
            try:
                # One open file read twice: run files are replaced whole (os.replace), never
                # rewritten in place, so both reads see the same bytes.
                size, sha256 = file_digest(handle)
                for offset, block in iter_chunks(handle, size):
                    first = offset == 0
                    self.send(Chunk(id=request.id, offset=offset, data=encode_chunk(block),
                                    size=size if first else None, sha256=sha256 if first else None))
            except OSError as exc:
                raise ProtocolError(ErrorCode.DISK, f"cannot read {request.path}: {exc.strerror or exc}",
                                    str(exc)) from exc
        return Result(id=request.id, ok=True, data={"path": request.path, "size": size, "sha256": sha256})
