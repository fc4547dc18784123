"""How the session takes each message from the backend: its hello, a job's events, the backend's
faults (a second hello, another protocol version, a malformed hello, silence while it owes an
answer). A part of ``session.BackendSession``, kept apart to keep each module readable; it reads
and changes the session's state and nothing else. No bpy here.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import img23d_protocol as protocol

from . import limits
from .process import Exited, GarbageLine, RefusedLine

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError
# The job id of the backend's warm-up (serve --warm-up; its service/warmup_job.py JOB_ID): its last event
# says how long it took, or why it failed, and is shown as a note.
WARM_UP_JOB = "warm-up"


class State(str, Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"
    ERROR = "error"


class SessionEvents:
    """The message handling of ``BackendSession`` (which has every attribute used here)."""

    def _outstanding(self) -> bool:
        """Whether the backend owes an answer: a job, a quick request, or a run being brought here."""
        return (self.state is State.BUSY or bool(self._awaiting - set(self.replies))
                or (self.download is not None and not self.download.done))

    def _answers_something(self, item: Any) -> bool:
        """Whether ``item`` is progress on something asked of the backend (what keeps the watchdog
        quiet); a garbage line, or a message for no outstanding request, is not."""
        if isinstance(item, (GarbageLine, Exited, RefusedLine)):
            return False
        if isinstance(item, protocol.Hello):
            return self.state is State.STARTING
        if self.download is not None and self.download.owns(item):
            return True
        if self._remote is not None and self._remote.owns(item):
            return True
        ident = item.job if isinstance(item, (protocol.Progress, protocol.Artifact)) else getattr(item, "id", None)
        return ident is not None and (ident == self.job_id or ident in self._awaiting)

    def _watchdog(self) -> list[Any]:
        """A backend that owes an answer and has made no progress on it for too long is hung: stop
        it, fail what waits."""
        limit = self.process.settings.watchdog_seconds if self.process is not None else 0
        if self.state not in (State.READY, State.BUSY) or not self._outstanding() or limit <= 0 \
                or self._watch.silent_for() < limit:
            return []
        assert self.process is not None
        self.process.kill()
        return self._lost(f"the backend made no progress for {limit:.0f} s and was stopped; "
                          "the next job starts a new one")

    def _handle(self, item: Any) -> list[Any]:
        if isinstance(item, GarbageLine):
            return []
        if isinstance(item, RefusedLine):
            assert self.process is not None
            self.process.kill()
            return self._lost(item.text)
        if isinstance(item, Exited):
            if self.state is State.STOPPED:
                return []
            if self.state is State.ERROR and self.job_id is None:
                # It was stopped for a reason already given (a flood, another version, silence):
                # "stopped unexpectedly" must not replace it.
                self._answer_waiting(self.error)
                return []
            if self.process is None:
                return self._lost(f"the backend stopped unexpectedly (exit code {item.returncode})")
            # After its hello it had connected and worked: over SSH, a lost link, not "could not connect".
            return self._lost(self.process.exit_message(item.returncode, connected=self.hello is not None))
        if isinstance(item, protocol.Hello):
            if self.state is not State.STARTING:
                assert self.process is not None
                self.process.kill()
                return self._lost(f"the backend on {self.process.settings.where} said hello again in the middle of "
                                  "a session, and was stopped; the next job starts a new one")
            return self._on_hello(item)
        if isinstance(item, protocol.Progress):
            if item.job == self.job_id:
                self.progress = item
            elif item.job == WARM_UP_JOB and item.step == item.total:
                self._note(item.message)
        if isinstance(item, (protocol.Result, protocol.Error)) and item.id in self._awaiting \
                and not getattr(item, "target", None):
            self.replies[item.id] = item
        if isinstance(item, protocol.Error):
            if item.id is None and self.state is State.STARTING:
                return self._lost(item.message)  # the backend refused to start, and said why
            self._note(f"{item.target + ': ' if item.target else ''}{item.message}")
            if item.id == self.job_id and not item.target:
                self._job_done()
        elif isinstance(item, protocol.Result):
            if item.id == self.job_id:
                self._job_done()
        return [item]

    def _on_hello(self, hello: Any) -> list[Any]:
        try:
            protocol.check_peer_hello(hello, "backend")
            _check_hello_fields(hello)
        except ProtocolError as exc:
            assert self.process is not None
            self.process.kill()
            return self._lost(exc.message)
        self.hello, self.state = hello, State.READY
        host = self.remote_host
        self._note(f"backend ready on {hello.device}" + (f" ({host})" if host else ""))
        pending, self._pending = self._pending, []
        try:
            for message in pending:
                assert self.process is not None
                self.process.send(message)
        except ProtocolError as exc:
            return self._lost(exc.message)
        if self._queued is not None:
            # A job that started this backend: the panel could not check it against its limits.
            refused = limits.refusal(self._queued, hello)
            if refused is not None:
                error = protocol.Error(id=self._queued.id, code=ErrorCode.OUT_OF_MEMORY.value, message=refused)
                self._queued = None
                if error.id in self._awaiting:
                    self.replies[error.id] = error
                self._note(refused)
                self._job_done()
                return [hello, error]
            try:
                self._send_job(self._queued)
            except ProtocolError as exc:
                return self._lost(exc.message)
        return [hello]


_HELLO_FIELDS = {"version": str, "device": str, "device_name": str, "memory": dict, "models": dict,
                 "environment": dict, "limits": dict, "runs_dir": str}


def _check_hello_fields(hello: Any) -> None:
    """A hello's fields of the wrong type (the codec does not check a peer's hello) would fail later,
    somewhere else: refused here, in one sentence."""
    for name, kind in _HELLO_FIELDS.items():
        value = getattr(hello, name, None)
        if value is not None and not isinstance(value, kind):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the backend's hello is malformed: its {name} is "
                                                       f"{type(value).__name__}, not {kind.__name__}")
