"""Import Run from the host: the backend's runs listed, and one run brought into the local mirror.

A run made on another machine is kept there (its runs folder); what came back during the job is
in the local mirror, but a job cut off by a dropped connection, or run from another computer,
left files that never travelled. ``RunDownload`` fetches every file of one run: it asks the
backend for the run's file list (``runs`` with ``run``, protocol 1.9), then fetches the files a
few at a time through the mirror (``transfer.Mirror``), the manifest last, so a download cut short
never leaves a folder that reads as a complete run. Driven by messages on Blender's main thread,
like ``RemoteJob``; no bpy here.

The list is checked and the files written by the protocol's one way to bring a run home
(``img23d_protocol.run_import``, which the batch driver's Ray import uses too): every name safe
and relative, sizes and count within limits, before the first fetch; a new local folder only (the
run's mirror path when nothing is there yet, else ``-2``, ``-3``...: a partial mirror of the same
run, or a local run of the same name, is never written over); each file atomic and exactly its
listed size. A download that fails removes the folder it made. Before it starts, what a killed
transfer left in the run's mirror here (``.tmp-*``: ``leftovers``) is removed.
"""

from __future__ import annotations

import posixpath
import uuid
from collections import deque
from typing import Any

import img23d_protocol as protocol

from .leftovers import remove_leftovers
from .transfer import Budget, Mirror, note_host_run

ProtocolError = protocol.ProtocolError
ErrorCode = protocol.ErrorCode

FETCH_WINDOW = 8          # fetches in flight at once: the backend streams them one after another anyway
MANIFEST = "manifest.json"


def parse_runs(reply: Any, mirror: Mirror) -> list[protocol.RunSummary]:
    """The runs a ``runs`` result lists, each checked to be a run folder of the mirrored runs folder."""
    listing = protocol.RunListing.from_dict(reply.data if isinstance(reply, protocol.Result) else None)
    for run in listing.runs:
        mirror.local_path(run.path)  # raises for a path outside the backend's runs folder
        if posixpath.basename(run.path) != run.name:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the run {run.name!r} is listed at another path, {run.path!r}")
    return list(listing.runs)


class RunDownload:
    """One run of the backend, fetched file by file into the local mirror."""

    def __init__(self, mirror: Mirror, run: str, where: str, limits: protocol.RunLimits | None = None) -> None:
        self.mirror, self.run, self.where = mirror, run, where
        self.local_dir = mirror.local_path(run)   # refused here when it would leave the local runs folder;
        self._home: protocol.ImportedRun | None = None  # a fresh folder, made once the files are listed
        self.manifest = posixpath.join(run, MANIFEST)
        self.list_id = uuid.uuid4().hex[:12]
        self.error = ""
        self.done = False
        self.total = 0
        self.fetched = 0
        self._todo: deque[str] = deque()
        self._limits = limits or protocol.RunLimits()  # what the import may bring here: files, bytes
        self._budget = Budget(self._limits.max_files, self._limits.max_bytes)  # held to as the files stream
        self._in_flight: set[str] = set()
        self._dropped: set[str] = set()           # fetches given up: their late chunks are still ours (ignored)

    def start(self) -> list[Any]:
        """What to send first: the request for the run's file list. What a killed transfer left in
        the run's mirror here goes first (the download itself writes into a new folder)."""
        remove_leftovers(self.local_dir)
        return [protocol.RunsRequest(id=self.list_id, run=self.run)]

    def follow(self, earlier: "RunDownload") -> None:
        """Take on what an ``earlier`` download gave up: the backend streams a cancelled fetch on (the protocol
        cannot stop one), and, when a new download replaced the old, those late chunks answered nothing asked
        and the backend was stopped as a flood."""
        self._dropped |= earlier._dropped

    def owns(self, message: Any) -> bool:
        ident = getattr(message, "id", None)
        return ident == self.list_id or ident in self._dropped or self.mirror.owns(message)

    def handle(self, message: Any) -> list[Any]:
        """The requests to send after one owned message from the backend."""
        if self.done or getattr(message, "id", None) in self._dropped:   # a fetch given up: taken, dropped
            return []
        if getattr(message, "id", None) == self.list_id:
            return self._listed(message)
        try:
            self.mirror.handle(message)
        except ProtocolError as exc:
            return self._fail(exc.message)
        if isinstance(message, protocol.Chunk):
            return []  # the file goes on
        self._in_flight.discard(message.id)
        self.fetched += 1
        return self._next()

    def close(self, why: str = "") -> None:
        """The backend went away (or the artist gave up): no half-fetched file stays behind."""
        if not self.done:
            self._fail(why or "the download was stopped")
        self.mirror.close()

    @property
    def progress(self) -> str:
        return f"{self.fetched} of {self.total} files" if self.total else "asking for the run's files"

    def _listed(self, reply: Any) -> list[Any]:
        if isinstance(reply, protocol.Error):
            return self._fail(reply.message)
        try:
            listing = protocol.RunListing.from_dict(reply.data if isinstance(reply, protocol.Result) else None)
            if listing.run != self.run:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"the backend listed {listing.run!r}, not {self.run!r}")
            paths = [posixpath.join(self.run, entry.path) for entry in listing.files]
            if self.manifest not in paths:
                raise ProtocolError(ErrorCode.BAD_REQUEST, "the run has no manifest")
            self._home = protocol.ImportedRun(self.local_dir.parent, self.local_dir.name,
                                              [(entry.path, entry.size) for entry in listing.files], self._limits)
            self.local_dir = self._home.root
        except ProtocolError as exc:
            return self._fail(exc.message)
        paths.sort(key=lambda path: path == self.manifest)  # the manifest last
        self._todo.extend(paths)
        self.total = len(paths)
        return self._next()

    def _next(self) -> list[Any]:
        send = []
        while self._todo and len(self._in_flight) < FETCH_WINDOW:
            # The manifest waits for every other file: it is what makes the folder a run.
            if self._todo[0] == self.manifest and self._in_flight:
                break
            remote = self._todo.popleft()
            assert self._home is not None  # files are queued only once the listing made the folder
            request = self.mirror.request(remote, budget=self._budget,
                                          into=self._home.file(remote[len(self.run) + 1:]))
            self._in_flight.add(request.id)
            send.append(request)
        if not self._todo and not self._in_flight:
            self.done = True
            note_host_run(self.local_dir, self.run)
        return send

    def _fail(self, why: str) -> list[Any]:
        if not self.error:
            self.error = f"the run {posixpath.basename(self.run)} could not be brought from {self.where}: {why}"
        self.done = True
        self._dropped |= self._in_flight  # the backend streams them on: taken and dropped, not a flood
        self._in_flight.clear()
        self.mirror.close()
        if self._home is not None:  # the folder this download made, and nothing else: no half run stays
            self._home.discard()
            self._home = None
        return []

