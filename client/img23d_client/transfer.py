"""Files over the protocol, the add-on's end, for a backend on another machine. No bpy here.

``upload_chunks`` turns a local file (the picture, the mesh to re-texture) into ``upload``
requests; the backend answers the last one with the file's path on its side, which the job
request then names. ``Mirror`` keeps a local copy of the backend's runs folder: each fetched
file lands at the same place under the local runs folder (``img23d_protocol.local_path``), so
the scene, Import Run and Re-layout read a run as they would from a local backend.

``Mirror`` is a state machine driven by messages, meant to be pumped on Blender's main thread
with whatever the session's ``pump()`` returns: nothing here blocks or starts a thread. A
backend that names a path outside the runs folder, sends more bytes than it announced, chunks
out of order or a wrong checksum gets one ``ProtocolError`` and writes nothing: every file is
written under a temporary name (``.tmp-*``) and renamed into place only once it checks out.

Disk is bounded too (``Budget``, one per job or per imported run): at most so many files and bytes,
counted by what each file's first chunk announces (and the receiver holds the file to that), a
file of an imported run is written through the protocol's ``ImportedRun`` (which refuses a size
that differs from what the run's listing said), at most
``MAX_OPEN_FETCHES`` files are written at once, and a file is refused before its first byte when
the disk would be left with less than ``disk_ledger.FREE_SPACE_RESERVE`` free, counting what every receiver
of this process still in progress on that disk is owed (``disk_ledger``: one ledger for all
mirrors, so a job's fetches and Import Run from Host share it). A refused file's temporary
file is removed, and its share of the disk released.
"""

from __future__ import annotations

import json
import os
import posixpath
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import img23d_protocol as protocol

from .disk_ledger import LEDGER, Claim

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError

MAX_OPEN_FETCHES = 16                  # files being written at once (each an open temporary file)


@dataclass
class Budget:
    """What one job, or one imported run, may write here: files and bytes, as announced."""

    max_files: int = protocol.MAX_RUN_FILES
    max_bytes: int = protocol.MAX_RUN_BYTES
    files: int = 0
    bytes: int = 0

    def take(self, size: int, name: str) -> None:
        if self.files + 1 > self.max_files:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name}: more than the {self.max_files} files one run may "
                                                       "bring here")
        if self.bytes + size > self.max_bytes:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name}: more than the {self.max_bytes:,} bytes one run may "
                                                       "bring here")
        self.files += 1
        self.bytes += size


def upload_chunks(path: Path, upload_id: str, name: str | None = None,
                  chunk_bytes: int = protocol.CHUNK_BYTES) -> Iterator[protocol.UploadRequest]:
    """The ``upload`` requests that send ``path``, all with ``upload_id``; the last has ``done``.

    The file is read once for its size and checksum (here, before the first request: an
    unreadable or too big file raises ``ProtocolError`` at once), then chunk by chunk as the
    requests are taken. Send them in order; the reply to ``upload_id`` (a ``result`` with
    ``data["path"]``, or one ``error``) comes after the last."""
    path = Path(path)
    try:
        handle: BinaryIO = open(path, "rb")
    except OSError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        size, sha256 = protocol.file_digest(handle)
        protocol.check_announced(size, sha256)
    except OSError as exc:
        handle.close()
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"cannot read {path}: {exc.strerror or exc}") from exc
    except ProtocolError:
        handle.close()
        raise
    return _requests(handle, upload_id, name or path.name, size, sha256, chunk_bytes)


def _requests(handle: BinaryIO, upload_id: str, name: str, size: int, sha256: str,
              chunk_bytes: int) -> Iterator[protocol.UploadRequest]:
    with handle:
        for offset, block in protocol.iter_chunks(handle, size, chunk_bytes):
            yield protocol.UploadRequest(id=upload_id, name=name, size=size, sha256=sha256, offset=offset,
                                         data=protocol.encode_chunk(block), done=offset + len(block) >= size)


# Beside the runs Import Run from Host brought under another name than the host's ("<run>-2": a run of that name
# was here already), in the local runs folder: each one's path on the host, what Regenerate asks the host for (it
# asked for "<run>-2": "gone"). Outside the runs themselves, which hold the host's files and nothing else.
HOST_RUNS = ".img23d-host-runs.json"


def note_host_run(local: Path, remote: str) -> None:
    """Note that the host calls the run ``local`` (just brought from it) ``remote``, when the names differ."""
    if local.name == posixpath.basename(remote):
        return
    notes = _host_runs(local.parent)
    notes[local.name] = remote
    written = local.parent / f".tmp-{uuid.uuid4().hex[:8]}-{HOST_RUNS}"
    try:
        written.write_text(json.dumps(notes, indent=1), encoding="utf-8")
        os.replace(written, local.parent / HOST_RUNS)
    except OSError:   # the run came home whole; only its Regenerate will ask the host for the local name
        written.unlink(missing_ok=True)


def host_run_of(local: Path, remote_root: str) -> str | None:
    """The host's path of the run ``local``, as ``HOST_RUNS`` notes it: only a path directly in the host's runs
    folder ``remote_root`` of a safe name (the file is read from disk, not trusted); None when it notes none."""
    named = _host_runs(local.parent).get(local.name)
    if not isinstance(named, str) or posixpath.dirname(named) != remote_root.rstrip("/"):
        return None
    try:
        protocol.check_file_name(posixpath.basename(named))
    except ProtocolError:
        return None
    return named


def _host_runs(folder: Path) -> dict[str, Any]:
    try:
        notes = json.loads((folder / HOST_RUNS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return notes if isinstance(notes, dict) else {}


@dataclass
class _Fetch:
    remote_path: str
    local: Path
    budget: Budget = field(default_factory=Budget)
    into: protocol.ImportedFile | None = None   # a file of an imported run: written (and held to its listed size) there
    receiver: protocol.Receiver | None = None   # made by the first chunk, which announces size and checksum
    claim: Claim | None = None                  # its share of the disk's free space, while it is written
    failed: bool = False                        # refused already: the rest of its messages are ignored


class Mirror:
    """The fetches in flight, by request id, and where each file lands locally.

    ``remote_root`` is the backend's runs folder as its hello names it (``hello.runs_dir``);
    ``local_root`` the add-on's runs folder."""

    def __init__(self, remote_root: str, local_root: Path) -> None:
        if not isinstance(remote_root, str) or not remote_root.startswith("/"):
            # An older backend's hello has no runs_dir: it cannot be mirrored.
            raise ProtocolError(ErrorCode.VERSION_MISMATCH, f"the backend did not name its runs folder "
                                                            f"({remote_root!r}): it needs protocol 1.8 or newer")
        self.local_root = Path(local_root)
        self.remote_root = remote_root
        self._fetches: dict[str, _Fetch] = {}

    def local_path(self, remote_path: str) -> Path:
        """Where ``remote_path`` (a path the backend named) lives in the local mirror."""
        return protocol.local_path(self.remote_root, remote_path, self.local_root)

    @property
    def in_flight(self) -> list[str]:
        return [fetch_id for fetch_id, fetch in self._fetches.items() if not fetch.failed]

    def request(self, remote_path: str, local: Path | None = None, *, budget: Budget | None = None,
                into: protocol.ImportedFile | None = None) -> protocol.FetchRequest:
        """A ``fetch`` request for ``remote_path``, already expected: send it as it is."""
        fetch_id = uuid.uuid4().hex[:12]
        self.expect(fetch_id, remote_path, local, budget=budget, into=into)
        return protocol.FetchRequest(id=fetch_id, path=remote_path)

    def expect(self, fetch_id: str, remote_path: str, local: Path | None = None, *, budget: Budget | None = None,
               into: protocol.ImportedFile | None = None) -> Path:
        """Take the chunks of fetch ``fetch_id`` from now on; returns the local path they will
        make: ``local`` when the caller chose it (checked already), else the mirror's own path for
        ``remote_path``. A remote path that would leave the local runs folder is refused here.
        ``budget``: what the job or import this file belongs to may still write (else one of its
        own); ``into``: the imported run's file it is (its path there, and its listed size)."""
        if not fetch_id or fetch_id in self._fetches:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"fetch id {fetch_id!r} is empty or already in use")
        if into is not None:
            local = into.path
        elif local is None:
            local = self.local_path(remote_path)
        self._fetches[fetch_id] = _Fetch(remote_path, local, budget or Budget(), into)
        return local

    def owns(self, message: Any) -> bool:
        """Whether ``message`` (a ``chunk``, ``result`` or ``error``) belongs to a fetch of this mirror."""
        return isinstance(message, (protocol.Chunk, protocol.Result, protocol.Error)) \
            and getattr(message, "id", None) in self._fetches

    def handle(self, message: Any) -> Path | None:
        """Drive the mirror with one owned message: the local file once a fetch is complete,
        None before (or after its refusal, which raised already); ``ProtocolError`` when a fetch fails."""
        if isinstance(message, protocol.Chunk):
            self.feed(message)
            return None
        if isinstance(message, protocol.Result):
            return self.finish(message)
        error = self.fail(message)
        if error is not None:
            raise error
        return None

    def feed(self, chunk: protocol.Chunk) -> None:
        """Write one chunk. Raises ``ProtocolError`` at the fetch's first bad chunk; the fetch is
        then over (its temporary file removed) and its later messages are ignored."""
        fetch = self._fetch(chunk.id)
        if fetch.failed:
            return
        try:
            if fetch.receiver is None:
                if chunk.offset != 0:
                    raise ProtocolError(ErrorCode.BAD_REQUEST, f"{fetch.remote_path}: the first chunk came at "
                                                               f"offset {chunk.offset}, not 0")
                fetch.receiver = self._receiver(fetch, chunk)
            fetch.receiver.write(chunk.offset, protocol.decode_chunk(chunk.data))
        except ProtocolError:
            self._give_up(fetch)
            raise

    def _receiver(self, fetch: _Fetch, chunk: protocol.Chunk) -> protocol.Receiver:
        """The first chunk's announcement, checked against the budget, the files open at once, the
        free space left by every receiver in progress (``disk_ledger``) and (an imported run's
        file) the listing, before a byte is written."""
        size, _sha = protocol.check_announced(chunk.size, chunk.sha256)
        name = fetch.remote_path
        if sum(1 for f in self._fetches.values() if f.receiver is not None and f.receiver.active) >= MAX_OPEN_FETCHES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name}: more than {MAX_OPEN_FETCHES} files sent at once")
        claim = fetch.claim = LEDGER.claim(fetch.local.parent, size, name, self.local_root)
        try:
            fetch.budget.take(size, name)
            if fetch.into is not None:
                return claim.attach(fetch.into.receiver(size, chunk.sha256))
            return claim.attach(protocol.Receiver(fetch.local, size, chunk.sha256))
        except ProtocolError:
            self._release(fetch)
            raise

    def finish(self, result: protocol.Result) -> Path | None:
        """The backend's ``result`` ends the fetch: check the file and move it into place.
        Returns its local path; None if the fetch was refused earlier (``feed`` raised then)."""
        fetch = self._fetch(result.id)
        del self._fetches[result.id]
        if fetch.failed:
            return None
        receiver = fetch.receiver
        data = result.data if isinstance(result.data, dict) else {}
        if receiver is None or (data.get("size"), data.get("sha256")) != (receiver.size, receiver.sha256):
            self._give_up(fetch)
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{fetch.remote_path}: the backend's answer does not "
                                                       "match the file it announced")
        try:
            return receiver.finish()
        finally:
            self._release(fetch)

    def fail(self, error: protocol.Error) -> ProtocolError | None:
        """The backend's ``error`` ends the fetch: nothing is kept. Returns it as an exception to
        report, or None if the fetch was refused earlier."""
        fetch = self._fetch(error.id or "")
        del self._fetches[error.id or ""]
        if fetch.failed:
            return None
        self._give_up(fetch)
        return error.to_exception()

    def close(self) -> None:
        """Drop every fetch in flight (the backend went away): their temporary files go too."""
        for fetch in self._fetches.values():
            self._give_up(fetch)
        self._fetches.clear()

    def _fetch(self, fetch_id: str) -> _Fetch:
        fetch = self._fetches.get(fetch_id)
        if fetch is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no fetch {fetch_id!r} is in flight")
        return fetch

    @classmethod
    def _give_up(cls, fetch: _Fetch) -> None:
        fetch.failed = True
        if fetch.receiver is not None:
            fetch.receiver.abort()
        cls._release(fetch)

    @staticmethod
    def _release(fetch: _Fetch) -> None:
        claim, fetch.claim = fetch.claim, None
        if claim is not None:
            LEDGER.release(claim)
