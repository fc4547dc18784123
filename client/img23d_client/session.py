"""The backend as the add-on sees it: a state, the job in flight, and events to hand out.

``pump()`` is called on Blender's main thread (from a timer, a modal tick, or a loop in
background mode). It drains what the reader thread queued, keeps the state up to date and
returns the messages the caller should act on. A backend that died mid-job becomes an
``error`` event for that job, so whoever waits for the job always hears back; the next
job starts a fresh backend. How each message is taken (the hello, a job's events, the backend's
faults) is ``session_events.SessionEvents``; silence and floods are watched by ``watch.Watch``.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable

import img23d_protocol as protocol

from .process import BackendProcess, Exited, GarbageLine, LaunchSettings, RefusedLine
from .remote_jobs import RemoteJob
from .remote_runs import RunDownload
from .session_events import SessionEvents, State
from .transfer import Mirror
from .watch import UNSOLICITED_LIMIT, Watch

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError

HELLO_TIMEOUT = 180.0   # first start imports torch and may build the tiny models


class BackendSession(SessionEvents):
    def __init__(self, settings: Callable[[], LaunchSettings],
                 process_factory: Callable[[LaunchSettings], BackendProcess] = BackendProcess) -> None:
        self._settings = settings
        self._factory = process_factory
        self.process: BackendProcess | None = None
        self.state = State.STOPPED
        self.hello: Any = None
        self.error: str = ""
        self.job_id: str | None = None
        self.job_kind: str = ""
        self.progress: Any = None            # the last Progress of the current job
        self.messages: deque[str] = deque(maxlen=12)
        self._queued: Any = None             # a job waiting for the handshake to finish
        self._synthetic: list[Any] = []      # events made here, handed out by the next pump()
        # Answers to quick requests (models, delete) and awaited jobs, by request id. Filled by
        # whoever pumps, so a waiting operator never needs the messages pump() hands out.
        self.replies: dict[str, Any] = {}
        self._awaiting: set[str] = set()
        self._pending: list[Any] = []        # quick requests waiting for the handshake
        self._watch = Watch()                # silence and flood (watch.py)
        self._remote: RemoteJob | None = None  # the job's files, when the backend is on another machine
        self.download: RunDownload | None = None  # a run of the host being brought here (Import Run)

    @property
    def remote_host(self) -> str:
        """The SSH host the backend runs on (for the status line); "" when it runs here."""
        settings = self.process.settings if self.process is not None else None
        return settings.where if settings is not None and settings.remote is not None else ""

    # -- starting and stopping ---------------------------------------------------------------

    def start(self) -> None:
        """Spawn the backend if it is not running; returns at once (state STARTING)."""
        if self.process is not None and self.process.alive and self.state is not State.ERROR:
            return
        self._discard_process()
        process = self._factory(self._settings())
        self.state, self.error, self.hello = State.STARTING, "", None
        try:
            process.start()
        except ProtocolError as exc:
            self._fail(exc.message)
            raise
        self.process = process
        self._note("starting the backend")

    def stop(self, wait: bool = True) -> None:
        """Stop the backend. The job in flight ends with one sentence (handed out by the next
        ``pump()``), its transfers are closed (no temporary file stays) and the next job starts a
        new backend. ``wait=False`` (a button): the process is ended on a thread, Blender never waits."""
        process, self.process = self.process, None
        job = self.job_id if self._queued is None or self._queued.id != self.job_id else self._queued.id
        if self._remote is not None:
            self._remote.close()
            self._remote = None
        if self.download is not None:
            self.download.close("the backend was stopped")
        self.state, self.job_id, self.progress, self._queued = State.STOPPED, None, None, None
        self._answer_waiting("the backend was stopped")
        if job is not None and job not in self.replies:
            self._synthetic.append(protocol.Error(id=job, code=ErrorCode.CANCELLED.value,
                                                  message="the backend was stopped during the job; what already "
                                                          "arrived stays"))
        if process is not None:
            if wait:
                process.stop()
            else:
                threading.Thread(target=process.stop, name="img23d-backend-stop", daemon=True).start()
        self._note("backend stopped")

    def _discard_process(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=1.0)
            self.process = None

    def current_hello(self) -> Any:
        """The hello of a backend that is up with the current preferences; None when the next
        job would start another one (whose limits are not known yet)."""
        if self.state not in (State.READY, State.BUSY) or self.process is None or not self.process.alive:
            return None
        return self.hello if self.process.settings == self._settings() else None

    def wait_ready(self, timeout: float = HELLO_TIMEOUT, poll: float = 0.05) -> None:
        """Block until the handshake is done (scripts and background mode only)."""
        deadline = time.monotonic() + timeout
        while self.state is State.STARTING:
            self.pump()
            if time.monotonic() > deadline:
                self._fail(f"the backend did not answer within {timeout:.0f} s")
                if self.process is not None:
                    self.process.kill()
            time.sleep(poll)
        if self.state is State.ERROR:
            raise ProtocolError(ErrorCode.BACKEND_UNAVAILABLE, self.error)

    # -- jobs ----------------------------------------------------------------------------

    def submit(self, request: Any) -> str:
        """Send a generate/detect request; starts (or restarts) the backend first if needed."""
        if self.state is State.BUSY or self.job_id is not None:
            raise ProtocolError(ErrorCode.BUSY, f"a {self.job_kind} job is already running; cancel it first")
        self._start_if_needed(request)
        self.job_id, self.job_kind, self.progress = request.id, request.TYPE, None
        if self.state is State.READY:
            try:
                self._send_job(request)
            except ProtocolError:
                self._job_done()  # never sent (a file that cannot be read, a backend too old): no job
                raise
        else:
            self._queued = request  # sent as soon as the hello arrives
        return request.id

    def request(self, message: Any) -> str:
        """Send a quick request (models, delete, status) beside any job; starts the backend if
        needed. Its answer lands in ``replies`` (see ``take_reply``)."""
        self._start_if_needed(message)
        self._asking()
        self._awaiting.add(message.id)
        if self.state in (State.READY, State.BUSY):
            assert self.process is not None
            self.process.send(message)
        else:
            self._pending.append(message)  # sent as soon as the hello arrives
        return message.id

    def _start_if_needed(self, message: Any) -> None:
        """Before ``message`` (a job or a quick request) is sent: start the backend when it is not
        running, or anew when the preferences changed since it started and no job would be cut off;
        give ``message`` an id when it has none."""
        if self.job_id is None and self.process is not None and self.process.settings != self._settings():
            self._discard_process()
            self.state = State.STOPPED
        if self.state in (State.STOPPED, State.ERROR) or self.process is None or not self.process.alive:
            self.start()
        if not message.id:
            message.id = uuid.uuid4().hex[:12]

    def await_reply(self, request_id: str) -> None:
        """Keep the result or error of ``request_id`` (e.g. a job's) in ``replies`` when it comes."""
        self._awaiting.add(request_id)

    def take_reply(self, request_id: str) -> Any:
        """The result or error that answered ``request_id``, once; None while it has not come."""
        reply = self.replies.pop(request_id, None)
        if reply is not None:
            self._awaiting.discard(request_id)
        return reply

    def _answer_waiting(self, message: str) -> None:
        """The backend is gone: every request still waiting gets an error instead of silence."""
        for request_id in sorted(self._awaiting - set(self.replies)):
            self.replies[request_id] = protocol.Error(id=request_id, code=ErrorCode.BACKEND_UNAVAILABLE.value,
                                                      message=message)
        self._pending = []

    def mirror(self) -> Mirror:
        """The local mirror of a ready remote backend's runs folder."""
        if self.process is None or self.process.settings.remote is None or self.hello is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "the backend does not run on another machine")
        return Mirror(getattr(self.hello, "runs_dir", None), self.process.settings.runs_dir)

    def fetch_run(self, run: str) -> RunDownload:
        """Bring one run folder of a ready remote backend into the local mirror, beside any job;
        pump until ``download.done``."""
        if self.download is not None and not self.download.done:
            raise ProtocolError(ErrorCode.BUSY, "a run is already being brought from the host; wait for it")
        assert self.process is not None
        download = RunDownload(self.mirror(), run, self.process.settings.where)
        if self.download is not None:
            download.follow(self.download)
        self._asking()
        self.download = download
        for message in download.start():
            self.process.send(message)
        return download

    def _asking(self) -> None:
        self._watch.asking(self._outstanding())

    def _send_job(self, request: Any) -> None:
        assert self.process is not None
        messages = [request]
        if self.process.settings.remote is not None:
            # Another machine: the job's files go first, and what it makes comes back (remote_jobs).
            self._remote = RemoteJob(request, self.mirror(), self.process.settings.where)
            messages = self._remote.start()
        for message in messages:
            self.process.send(message)
        self._watch.asking(False)
        self.state = State.BUSY
        self._queued = None

    def cancel(self) -> bool:
        """Ask the backend to stop the current job between steps. False when nothing runs."""
        if self.job_id is None or self.process is None:
            return False
        # Never sent (queued, or its files still going to the host): answered here. Sent to the backend, a cancel
        # while the files went found no job there, and the job was sent when they had arrived and ran to its end.
        if self._queued is not None or (self._remote is not None and self._remote.uploading):
            self._queued = None
            if self._remote is not None:
                self._remote.close()
            error = protocol.Error(id=self.job_id, code=ErrorCode.CANCELLED.value,
                                   message="the job was cancelled before it started")
            self._synthetic.append(error)
            if error.id in self._awaiting:
                self.replies[error.id] = error
            self._job_done()
            return True
        self.process.send(protocol.CancelRequest(id=uuid.uuid4().hex[:8], job=self.job_id))
        self._note("cancel requested")
        return True

    # -- the main-thread pump ----------------------------------------------------------------

    def pump(self, max_messages: int = 200) -> list[Any]:
        """Drain queued output (at most ``max_messages``) and return messages to act on."""
        out, self._synthetic = self._synthetic, []
        if self.process is None:
            return out
        for _ in range(max_messages):
            try:
                item = self.process.events.get_nowait()
            except queue.Empty:
                break
            failed_before = self.state is State.ERROR
            if not isinstance(item, Exited) and self.state in (State.READY, State.BUSY) \
                    and self._watch.heard(self._answers_something(item)):
                self.process.kill()
                why = (f"the backend on {self.process.settings.where} sent more than {UNSOLICITED_LIMIT} messages "
                       "that answer nothing asked of it, and was stopped; the next job starts a new one")
                if getattr(self.process, "stuck", False):  # stopped already, for the worse of its faults
                    why = self.process.exit_message(None)
                out.extend(self._lost(why))
                break
            try:
                for message in self._relay(item):
                    out.extend(self._handle(message))
            except ProtocolError as exc:  # a request could not be sent, a message could not be taken
                self.process.kill()
                out.extend(self._lost(exc.message))
            except OSError as exc:  # the disk, while a message wrote a file or made a folder
                self.process.kill()
                out.extend(self._lost(f"the backend's message could not be taken: {exc.strerror or exc}; "
                                      "the backend was stopped"))
            if self.process is None or (self.state is State.ERROR and not failed_before):
                break  # what it had said after that is drained by the next pumps, unread
        out.extend(self._watchdog())
        if self.state is State.STARTING and self.process is not None and \
                time.monotonic() - self.process.started_at > HELLO_TIMEOUT:
            out.extend(self._lost(f"the backend did not say hello within {HELLO_TIMEOUT:.0f} s"))
            self.process.kill()
        return out

    def _relay(self, item: Any) -> list[Any]:
        """A remote job's messages wait for their files (``RemoteJob``), a run download takes its own
        (``RunDownload``); the rest pass as they are."""
        if self.download is not None and self.download.owns(item):  # also a cancelled one's late chunks
            assert self.process is not None
            for message in self.download.handle(item):
                self.process.send(message)
            return []
        if self._remote is None or isinstance(item, (GarbageLine, RefusedLine, Exited, protocol.Hello)):
            return [item]
        try:
            send, out = self._remote.handle(item)
            for message in send:
                assert self.process is not None
                self.process.send(message)
        except ProtocolError as exc:
            return self._lost(exc.message)
        return out

    def _job_done(self) -> None:
        self.job_id, self.progress, self._remote = None, None, None
        if self.state is State.BUSY:
            self.state = State.READY

    def _lost(self, message: str) -> list[Any]:
        """The backend is unusable: tell the waiting job (if any) and go to ERROR."""
        job = self.job_id
        if self._remote is not None:
            self._remote.close()  # no half-fetched file stays behind
            self._remote = None
        if self.download is not None:
            self.download.close(message)
        self._fail(message)
        self._queued = None
        self.job_id, self.progress = None, None
        self._answer_waiting(message)
        if job is None:
            return []
        return [protocol.Error(id=job, code=ErrorCode.BACKEND_UNAVAILABLE.value, message=message)]

    def _fail(self, message: str) -> None:
        self.state, self.error = State.ERROR, message
        self._note(message.splitlines()[0] if message else "backend error")

    def _note(self, text: str) -> None:
        self.messages.append(text)
