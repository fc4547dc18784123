"""A job on a backend on another machine: its files sent first, what it makes fetched as it comes.

The session hands every message of the job through ``RemoteJob.handle`` and gets back the
requests to send and the messages to act on. Before the job: its picture (and a re-texture's
mesh, and either's views) go up as ``upload`` requests, and the job is sent once the backend has
answered each with its own path for the file. During it: each artifact that names a file (a mesh, the layout's
manifest, detections, a texture) is fetched into the local mirror of the runs folder and handed
on only then, with its local path, in the order the backend sent it; the result waits for the
run's manifest and the files it names (a rig's GLB and weights and a parts model's mask, named
relative to the run, included: without them Rig Selected could not finish on a remote backend). So the scene, Import Run and Re-layout read local files,
as they would from a backend on this computer, and objects still appear one by one.

A fetch that fails (a hostile or broken backend: a path outside the runs folder, more bytes than
announced, a wrong checksum) becomes an error for that one target; nothing is written outside
the local runs folder (``transfer.Mirror``). Nor outside this job's own run folder: the job's first
artifact names it (``run``), its local mirror must not exist yet (a run is never written over), and
every file the job makes must be inside it, under a name ``protocol.safe_names`` accepts and no
other file's name but for case or Unicode normalisation. No bpy here.
"""

from __future__ import annotations

import itertools
import posixpath
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import img23d_protocol as protocol

from .transfer import Budget, Mirror, host_run_of, upload_chunks

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError

_Kind = protocol.ArtifactKind
FETCHED_KINDS = (_Kind.MESH, _Kind.HIGH_MESH, _Kind.LAYOUT, _Kind.DETECTIONS, _Kind.OVERLAY,
                 _Kind.TEXTURE, _Kind.METALLIC_ROUGHNESS, _Kind.COMPLETION,
                 _Kind.PART, _Kind.PICTURE)  # artifacts naming a file to read (1.22: an object's parts; 1.25: a
                                             # picture made from a prompt)
FOLDER_KINDS = (_Kind.RUN,)                                              # artifacts naming a folder
RESULT_FILES = ("manifest", "texture", "uvs", "layout_picture", "metallic_roughness",
                "completion_picture", "mesh", "high_mesh", "picture")    # result fields naming files (retopo's
                                                                         # mesh and high_mesh: issue 58; Make
                                                                         # Picture's picture: 1.25)
RESULT_FILE_LISTS = ("pictures",)  # result fields naming several files (Make Picture's variations: 1.26)
# (1.22) result fields naming files relative to the run folder: a rig's GLB and weights, a parts model's mask
RUN_RELATIVE_FILES = ("rigged", "weights", "mask")
UPLOADED_FIELDS = {"image": "picture", "mesh": "mesh", "mask": "part mask"}  # request fields naming local files
VIEWS_FIELD = "views"  # (1.19) a generate's {name: {side: picture}}, a retexture's {side: picture}: uploaded too


@dataclass(frozen=True)
class _Upload:
    """Where an uploaded file's host path goes in the request: a field, or a view's place in ``views``."""

    field: str
    keys: tuple[str, ...] = ()   # a view: (name, side) for a generate, (side,) for a retexture
    what: str = ""               # how a sentence names the file

    def put(self, request: Any, path: str) -> None:
        if not self.keys:
            setattr(request, self.field, path)
            return
        holder = getattr(request, self.field)
        for key in self.keys[:-1]:
            holder = holder[key]
        holder[self.keys[-1]] = path


def _local_files(request: Any) -> list[tuple[_Upload, str]]:
    """Each local file ``request`` names, with where its host path goes."""
    files = [(_Upload(name, what=what), value) for name, what in UPLOADED_FIELDS.items()
             if isinstance(value := getattr(request, name, ""), str) and value]
    views = getattr(request, VIEWS_FIELD, None)
    for key, value in (views.items() if isinstance(views, dict) else ()):
        if isinstance(value, dict):  # a generate's name: {side: picture}
            files.extend((_Upload(VIEWS_FIELD, (key, side), f"{side} view of {key!r}"), path)
                         for side, path in value.items())
        else:
            files.append((_Upload(VIEWS_FIELD, (key,), f"{key} view"), value))
    return files


@dataclass
class _Held:
    """A message of the job waiting for its files, in the order the backend sent it."""

    message: Any
    waiting: set[str] = field(default_factory=set)   # fetch ids still to arrive
    failed: str = ""


class RemoteJob:
    def __init__(self, request: Any, mirror: Mirror, where: str, budget: Budget | None = None) -> None:
        self.request = request
        self.mirror = mirror
        self.where = where
        self._uploads: dict[str, _Upload] = {}  # upload id -> where in the request its host path goes
        self._held: deque[_Held] = deque()
        self._local_run: Path | None = None    # a regenerate's local run folder (its result maps back)
        self._host_run: str | None = None      # that run's folder on the host, when the two names differ
        self._run: str | None = None           # this job's run folder on the host, as its "run" artifact said
        self._names = protocol.NameSet()       # the files fetched into it so far
        self._budget = budget or Budget()      # what the job may bring here, files and bytes
        if isinstance(getattr(request, "run", None), str) and request.run:
            self._local_run = Path(request.run)
            request.run = self.remote_of(Path(request.run))

    @property
    def uploading(self) -> bool:
        """Whether the job's files are still going to the host: the job itself is sent when the last arrives."""
        return bool(self._uploads)

    def remote_of(self, local: Path) -> str:
        """The backend's path of a local mirror path (a run folder Generate brought back): the one its
        ``transfer.HOST_RUNS`` notes, for a run Import Run from Host brought under another name ("<run>-2": the
        live job's mirror was there), else the same path under the host's runs folder."""
        named = host_run_of(Path(local), self.mirror.remote_root)
        if named is not None:
            self._host_run = named
            return named
        try:
            relative = Path(local).resolve().relative_to(self.mirror.local_root.resolve())
        except ValueError:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{local} is not a run of the backend on {self.where}: "
                                                       "it is not in the Runs Folder that mirrors it") from None
        return posixpath.join(self.mirror.remote_root, *relative.parts)

    def start(self) -> Iterator[Any]:
        """What to send first, one message at a time: the uploads of the job's files, or the job itself when it
        has none. Every file is opened and checked first (one unreadable or too big raises before anything is
        sent); then each chunk is read as it is taken, so only the chunk being sent is held, whatever the files
        weigh (issue 66: three 100 MB views no longer grow the add-on by half a gigabyte)."""
        streams = []
        for upload, value in _local_files(self.request):
            upload_id = uuid.uuid4().hex[:12]
            streams.append(upload_chunks(Path(value), upload_id))  # unreadable: raises before anything is sent
            self._uploads[upload_id] = upload
        return itertools.chain.from_iterable(streams) if streams else iter([self.request])

    def handle(self, message: Any) -> tuple[list[Any], list[Any]]:
        """(requests to send, messages to act on) for one message from the backend."""
        message_id = getattr(message, "id", None)
        if isinstance(message, (protocol.Result, protocol.Error)) and message_id in self._uploads:
            return self._uploaded(message)
        if self.mirror.owns(message):
            self._fetched(message)
            return [], self._flush()
        if not self._of_this_job(message):
            return [], [message]
        send: list[Any] = []
        self._held.append(self._hold(message, send))
        return send, self._flush()

    def owns(self, message: Any) -> bool:
        """Whether ``message`` belongs to this job: an upload's reply, a fetch's, or the job's own."""
        return getattr(message, "id", None) in self._uploads or self.mirror.owns(message) \
            or self._of_this_job(message)

    def close(self) -> None:
        """The backend went away: drop the fetches in flight and their temporary files."""
        self.mirror.close()
        self._held.clear()

    # -- uploads -------------------------------------------------------------------------------

    def _uploaded(self, reply: Any) -> tuple[list[Any], list[Any]]:
        upload = self._uploads.pop(reply.id)
        path = reply.data.get("path") if isinstance(reply, protocol.Result) and isinstance(reply.data, dict) else None
        if not isinstance(path, str) or not path:
            self._uploads.clear()
            why = reply.message if isinstance(reply, protocol.Error) else "the backend named no path for it"
            return [], [protocol.Error(id=self.request.id, code=getattr(reply, "code", ErrorCode.BAD_REQUEST.value),
                                       message=f"the {upload.what} could not be sent to {self.where}: {why}")]
        upload.put(self.request, path)
        return ([self.request] if not self._uploads else []), []

    # -- what the job makes --------------------------------------------------------------------

    def _of_this_job(self, message: Any) -> bool:
        job = self.request.id
        if isinstance(message, (protocol.Artifact, protocol.Progress)):
            return message.job == job
        return isinstance(message, (protocol.Result, protocol.Error)) and message.id == job

    def _hold(self, message: Any, send: list[Any]) -> _Held:
        if isinstance(message, protocol.Artifact) and message.kind in FOLDER_KINDS:
            try:
                return self._artifact(message, send)
            except ProtocolError as exc:  # no run folder, no job: it ends here (the session stops it)
                raise ProtocolError(exc.code, f"the backend on {self.where} named a run folder that cannot be "
                                              f"used here: {exc.message}") from None
        try:
            if isinstance(message, protocol.Artifact):
                return self._artifact(message, send)
            if isinstance(message, protocol.Result):
                return self._result(message, send)
        except ProtocolError as exc:  # a path that would leave the local runs folder
            return _Held(message, failed=exc.message)
        return _Held(message)

    def _artifact(self, artifact: Any, send: list[Any]) -> _Held:
        if artifact.kind in FOLDER_KINDS:
            return _Held(replace(artifact, path=str(self._claim_run(artifact.path))))
        if artifact.kind not in FETCHED_KINDS:
            return _Held(artifact)
        local = self._local_of(artifact.path)
        fetch = self.mirror.request(self._in_run(artifact.path), local, budget=self._budget)
        send.append(fetch)
        return _Held(replace(artifact, path=str(local)), {fetch.id})

    def _claim_run(self, remote: str) -> Path:
        """The job's run folder: the first one it names, new here (made now), never an existing one."""
        if self._run is not None:
            if remote == self._run:
                return self._local_of(remote)
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the job named a second run folder, {remote[:200]!r}")
        local = self._local_of(remote)
        try:
            local.parent.mkdir(parents=True, exist_ok=True)
            local.mkdir()
        except FileExistsError:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the job's run folder {local} is already here: a run is "
                                                       "never written over") from None
        except OSError as exc:
            raise ProtocolError(ErrorCode.DISK, f"cannot make {local}: {exc.strerror or exc}") from exc
        self._run = remote
        return local

    def _local_of(self, remote: str) -> Path:
        """Where ``remote`` lands here: under the local run when it is under the host run a regenerate named by
        ``transfer.HOST_RUNS``, else at the mirror's own path (both checked as every name from the host)."""
        if self._host_run is not None and self._local_run is not None and remote.startswith(self._host_run + "/"):
            return protocol.local_path(self._host_run, remote, self._local_run)
        return self.mirror.local_path(remote)

    def _in_run(self, remote: str) -> str:
        """``remote`` when it names a file inside this job's run folder, with a name safe here."""
        if self._run is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the job named the file {remote[:200]!r} before its run folder")
        if not isinstance(remote, str) or not remote.startswith(self._run + "/"):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{str(remote)[:200]!r} is not in the job's run folder "
                                                       f"{self._run!r}")
        self._names.add(remote[len(self._run) + 1:])
        return remote

    def _relative_in_run(self, relative: str) -> str:
        """The host's path of ``relative``, a result's file relative to this job's run folder, when it is one."""
        if self._run is None or relative.startswith("/"):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{relative[:200]!r} is not a path relative to the job's "
                                                       "run folder")
        try:
            return self._in_run(posixpath.join(self._run, relative))
        except ProtocolError as exc:
            raise ProtocolError(exc.code, f"the result's file {relative[:200]!r} is refused: {exc.message}") from None

    def _result(self, message: Any, send: list[Any]) -> _Held:
        kind = protocol.JOB_RESULTS.get(self.request.TYPE)
        if kind is None:  # not a job's result: nothing in it names a file
            return _Held(message)
        result = kind.from_dict(message.data)  # a bad field: this job's error (``_hold``)
        named = {name: getattr(result, name) for name in RESULT_FILES if getattr(result, name, None)}
        remote_files = [self._in_run(path) for path in named.values()]
        local: dict[str, Any] = {name: str(self._local_of(path)) for name, path in named.items()}
        listed = {name: list(getattr(result, name)) for name in RESULT_FILE_LISTS if getattr(result, name, None)}
        remote_files += [self._in_run(path) for paths in listed.values() for path in paths]
        local.update({name: [str(self._local_of(path)) for path in paths] for name, paths in listed.items()})
        run_dir = getattr(result, "run_dir", "")
        if run_dir:
            if run_dir != self._run:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"the result names the run folder {run_dir[:200]!r}, not "
                                                           "the job's own")
            local["run_dir"] = str(self._local_of(run_dir))
            remote_files.append(posixpath.join(run_dir, "manifest.json"))  # what Import Run reads later
        # Left relative in the result: the local run mirrors the host's, so they name the same files here.
        remote_files += [self._relative_in_run(getattr(result, name)) for name in RUN_RELATIVE_FILES
                         if getattr(result, name, None)]
        if isinstance(result, protocol.RegenerateJobResult) and self._local_run is not None:
            local["source_run"] = str(self._local_run)
        waiting = set()
        for remote in dict.fromkeys(remote_files):
            fetch = self.mirror.request(remote, self._local_of(remote), budget=self._budget)
            send.append(fetch)
            waiting.add(fetch.id)
        return _Held(replace(message, data=replace(result, **local).to_dict()), waiting)

    def _fetched(self, message: Any) -> None:
        try:
            done = self.mirror.handle(message)
        except ProtocolError as exc:
            self._arrived(message.id, exc.message)
            return
        if done is not None:
            self._arrived(message.id, "")

    def _arrived(self, fetch_id: str, failed: str) -> None:
        for held in self._held:
            if fetch_id in held.waiting:
                held.waiting.discard(fetch_id)
                held.failed = held.failed or failed
                return

    def _flush(self) -> list[Any]:
        """The held messages whose files are all here, in order; a failed one as an error."""
        out: list[Any] = []
        while self._held and not self._held[0].waiting:
            held = self._held.popleft()
            out.append(self._failure(held) if held.failed else held.message)
        return out

    def _failure(self, held: _Held) -> Any:
        message, why = held.message, f"a file could not be brought back from {self.where}: {held.failed}"
        if isinstance(message, protocol.Artifact):
            return protocol.Error(id=self.request.id, code=ErrorCode.BAD_REQUEST.value, message=why,
                                  target=message.target or message.kind)
        return protocol.Error(id=self.request.id, code=ErrorCode.BAD_REQUEST.value, message=why)
