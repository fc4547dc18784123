"""The one place that spawns the backend process, and the thread that reads its output.

The backend runs as ``<python> -m img23d_backend serve ...`` with pipes on stdin and stdout
and its stderr in a log file (a pipe nobody reads could fill and freeze it). No shell, no
command string: an argument list. A reader thread turns stdout lines into protocol
messages on a queue; the main thread drains the queue without ever blocking.

Nothing the far side prints can grow Blender without bound: a line is read with its limit
(``protocol.bounded_lines``, ``last_overlong``: no line over 1 MiB is held, and the first one ends
the session: a backend that sends it is broken or hostile, and is stopped at once), the queue holds a bounded number of messages
and bytes (``events.EventQueue``: past it the reader waits, and so does the backend), and stderr is
copied by a thread into a log capped on disk (``CappedLog``).

Two transports start the same process: here (the local Python), or on another machine through
the system's ``ssh`` (``remote.RemoteHost``), whose stdin and stdout carry the same lines.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import img23d_protocol as protocol

from .paths import backend_source_dir, protocol_wheel
from . import capped_log
from .capped_log import CappedLog
from .endings import killed, signal_name
from .events import EventQueue
from .remote import RemoteHost, RemoteProblem, explain, lost_link

STDERR_BLOCK = 64 * 1024
WRITE_PIECE = 64 * 1024   # requests are written in pieces, each a sign that the backend still reads

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError
# The backend's default image editor (the protocol's; tests/backend/editors/test_qwen_editor.py
# holds the two to each other).
DEFAULT_EDITOR = protocol.DEFAULT_IMAGE_EDITOR


@dataclass
class LaunchSettings:
    """Everything that decides how the backend is started (from the add-on's preferences)."""

    python: Path
    runs_dir: Path
    models: str = "default"
    grounding: str = "2b"
    family: str = protocol.DEFAULT_FAMILY
    shape: str = "2mini-turbo"
    paint: str = protocol.DEFAULT_PAINT_MODEL
    matting: str = "birefnet"
    editor: str = DEFAULT_EDITOR     # the backend's --editor
    depth: str = protocol.DEFAULT_DEPTH_MODEL  # the backend's --depth
    device: str = "auto"
    # A model on another device than the rest (--device-for ROLE=DEVICE): {"grounding": "cpu"}.
    device_for: dict[str, str] = field(default_factory=dict)
    warm_up: bool = False           # --warm-up: one small job right after start, so the first real one is quick
    budget_gb: float = 0.0          # 0 = the backend's own default
    memory_cap_gb: float = 0.0      # --memory-cap-gb: device memory the whole backend may use; 0 = no cap
    offline: bool = False
    watchdog_seconds: float = 600.0  # a busy backend silent this long is stopped (0 = never)
    # Over SSH: an empty line every keepalive_seconds, and the backend ends when nothing has come
    # for client_timeout_seconds (a lost client may leave its stdin open on the host: see server.py).
    keepalive_seconds: float = 10.0
    client_timeout_seconds: float = 45.0
    # A backend that takes no byte of a request for this long has stopped reading (a hostile one may
    # flood its output meanwhile): it is stopped, so that Blender's main thread never waits on it for good.
    send_stuck_seconds: float = 30.0
    log_path: Path | None = None
    # Environment for the backend only (e.g. HF_TOKEN): never on the command line, never in a repr.
    extra_env: dict[str, str] = field(default_factory=dict, repr=False)
    # The backend on another machine over SSH; None: here. ``runs_dir`` is then the local mirror.
    remote: RemoteHost | None = None

    def command(self) -> list[str]:
        out = self.remote.runs_dir if self.remote is not None else str(self.runs_dir)
        args = ["serve", "--models", self.models, "--grounding", self.grounding, "--family", self.family,
                "--shape", self.shape, "--paint", self.paint, "--matting", self.matting, "--device", self.device,
                "--out", out]
        if self.editor != DEFAULT_EDITOR:  # named only when another, so a backend older than the choice starts
            args += ["--editor", self.editor]
        if self.depth != protocol.DEFAULT_DEPTH_MODEL:  # as --editor
            args += ["--depth", self.depth]
        for flag, gb in (("--budget-gb", self.budget_gb), ("--memory-cap-gb", self.memory_cap_gb)):
            if gb > 0:  # 0: the backend's own (no cap): unnamed, so a backend older than the cap starts
                args += [flag, f"{gb:g}"]
        for role, device in self.device_for.items():  # named only when set, as --editor: older backends start
            args += ["--device-for", f"{role}={device}"]
        if self.warm_up:
            args.append("--warm-up")
        if self.offline:
            args.append("--offline")
        if self.remote is not None:
            if self.client_timeout_seconds > 0:
                args += ["--client-timeout", f"{self.client_timeout_seconds:g}"]
            return self.remote.command(args)
        return [str(self.python), "-m", "img23d_backend", *args]

    @property
    def where(self) -> str:
        """Where the backend runs, for the status line: "this computer" or the SSH host."""
        return self.remote.host.strip() if self.remote is not None else "this computer"


@dataclass
class GarbageLine:
    """A stdout line that was not a protocol message (kept for the log, never acted on)."""

    text: str


@dataclass
class RefusedLine:
    """A line the add-on cannot take from its backend, in one sentence: another protocol major version (the
    backend is not this add-on's), or a message of this protocol whose fields do not hold (the backend is
    broken, not chatty: a stray print, or an event type a newer minor version adds, is a ``GarbageLine``). The
    backend is stopped with it."""

    text: str


@dataclass
class Exited:
    """The backend's stdout closed: it exited, or is about to."""

    returncode: int | None


class BackendProcess:
    def __init__(self, settings: LaunchSettings) -> None:
        self.settings = settings
        self.events = EventQueue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stderr: threading.Thread | None = None
        self._stopping = threading.Event()
        self._writing_since: float | None = None   # when the write in progress last got a piece through
        self.stuck = False                         # stopped because it no longer read its requests
        self.overlong = False                      # stopped because it sent a line over the limit
        self._log: CappedLog | None = None
        self._write_lock = threading.Lock()
        self.started_at = 0.0
        self.garbage: deque[str] = deque(maxlen=20)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the backend. Raises ``ProtocolError(backend_unavailable)`` if it cannot start."""
        if self.settings.remote is not None:
            try:
                self.settings.remote.check()
            except RemoteProblem as exc:
                raise ProtocolError(ErrorCode.BACKEND_UNAVAILABLE, str(exc)) from exc
        else:
            self._check_local_python()
        self._spawn()

    def _check_local_python(self) -> None:
        python = self.settings.python
        if not str(python) or not python.is_file():
            raise ProtocolError(ErrorCode.BACKEND_UNAVAILABLE,
                                f"no backend Python at {python or '(not set)'}: set it in the add-on's "
                                "preferences or run 'Install backend' there")
        if not os.access(python, os.X_OK):
            raise ProtocolError(ErrorCode.BACKEND_UNAVAILABLE, f"the backend Python {python} is not executable")

    def _spawn(self) -> None:
        env = self._environment()
        log_path = self.settings.log_path
        try:
            self.settings.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProtocolError(ErrorCode.DISK, f"the runs folder {self.settings.runs_dir} cannot be created "
                                f"({exc.strerror or exc}): choose another in the add-on's preferences") from exc
        try:
            if log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = CappedLog(log_path, capped_log.LOG_CAP_BYTES)  # read now: tests lower it
            self._proc = subprocess.Popen(self.settings.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE if self._log else subprocess.DEVNULL, env=env,
                                          cwd=str(self.settings.runs_dir))
        except OSError as exc:
            self._close_log()
            what = "ssh" if self.settings.remote is not None else "the backend"
            raise ProtocolError(ErrorCode.BACKEND_UNAVAILABLE, f"could not start {what}: {exc}") from exc
        self.started_at = time.monotonic()
        if self._log is not None:
            self._stderr = threading.Thread(target=self._copy_stderr, args=(self._proc, self._log),
                                            name="img23d-backend-stderr", daemon=True)
            self._stderr.start()
        self._reader = threading.Thread(target=self._read, args=(self._proc,), name="img23d-backend-reader",
                                        daemon=True)
        self._reader.start()
        if self.settings.remote is not None and self.settings.keepalive_seconds > 0:
            threading.Thread(target=self._keep_alive, args=(self._proc,), name="img23d-backend-keepalive",
                             daemon=True).start()
        if self.settings.send_stuck_seconds > 0:
            threading.Thread(target=self._guard_writes, args=(self._proc,), name="img23d-backend-write-guard",
                             daemon=True).start()

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # Blender sets PYTHONHOME/PYTHONPATH for its own interpreter; they would break another one.
        for name in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE"):
            env.pop(name, None)
        if self.settings.remote is not None:
            # ssh's own environment: the backend's (HF_TOKEN...) is not sent to another machine,
            # whose backend runs the code and packages installed there.
            return env
        # The add-on runs the backend code it was shipped with, with the environment's packages,
        # and the protocol's wheel itself on the path (a pure-Python wheel imports as a zip):
        # the backend speaks exactly the protocol this add-on speaks, whatever the environment has.
        env["PYTHONPATH"] = os.pathsep.join([str(backend_source_dir()), str(protocol_wheel())])
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONNOUSERSITE"] = "1"
        env.update(self.settings.extra_env)
        return env

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in protocol.bounded_lines(proc.stdout, last_overlong=True):
            if isinstance(line, protocol.OverlongLine):
                # Nothing it says from here can be trusted, and the job would wait for the watchdog:
                # stopped now; its exit brings the sentence (``exit_message``).
                self.overlong = True
                proc.kill()
                break
            try:
                item: Any = protocol.decode(line, protocol.EVENT_TYPES)
            except ProtocolError as exc:
                if exc.code is ErrorCode.VERSION_MISMATCH:  # another release's backend: refused at once
                    item = RefusedLine(protocol.version_refusal("backend", *protocol.line_version(line)))
                elif protocol.is_known_event(line):   # an unknown type is a newer minor's: skipped as before
                    item = RefusedLine(f"the backend sent a message the add-on cannot read ({exc.message}) "
                                       "and was stopped; the next job starts a new one")
                else:
                    item = GarbageLine(line[:300].decode("utf-8", "replace"))
            if isinstance(item, GarbageLine):
                self.garbage.append(item.text)
            if not self.events.put(item, len(line)):
                break  # stopped: nobody reads any more
        returncode = proc.wait()
        if self._stderr is not None:
            self._stderr.join(timeout=2)  # ssh's last words in the log before the exit is explained
        self.events.end(Exited(returncode))

    def _keep_alive(self, proc: subprocess.Popen[bytes]) -> None:
        """An empty line now and then (every backend skips them): the backend over SSH knows its
        client is there, even while Blender's main thread is busy."""
        while not self._stopping.wait(self.settings.keepalive_seconds) and proc.poll() is None:
            try:
                self._write(proc, b"\n")
            except (OSError, ValueError):
                return  # gone: the reader reports it

    def _write(self, proc: subprocess.Popen[bytes], data: bytes) -> None:
        """``data`` to the backend's stdin in pieces, noting each one's progress for the guard."""
        assert proc.stdin is not None
        raw = getattr(proc.stdin, "raw", proc.stdin)
        view = memoryview(data)
        with self._write_lock:
            try:
                while view:
                    self._writing_since = time.monotonic()
                    written = raw.write(view[:WRITE_PIECE])
                    view = view[written or 0:]
            finally:
                self._writing_since = None

    def _guard_writes(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop a backend that has taken nothing of a request for ``send_stuck_seconds`` (it no longer
        reads, perhaps flooding its output meanwhile): the write then fails instead of holding the
        thread that writes (Blender's main thread) for good."""
        limit = self.settings.send_stuck_seconds
        while not self._stopping.wait(min(1.0, limit / 4)) and proc.poll() is None:
            since = self._writing_since
            if since is not None and time.monotonic() - since > limit:
                self.stuck = True
                proc.kill()
                return

    @staticmethod
    def _copy_stderr(proc: subprocess.Popen[bytes], log: CappedLog) -> None:
        """The backend's stderr into its capped log, as it comes (a pipe nobody reads would fill and
        freeze the backend)."""
        assert proc.stderr is not None
        fd = proc.stderr.fileno()
        while True:
            try:
                block = os.read(fd, STDERR_BLOCK)
            except OSError:
                return
            if not block:
                return
            try:
                log.write(block)
            except (OSError, ValueError):
                return  # the log was closed (stopped) or the disk refused: the pipe is drained no more

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def send(self, message: Any) -> None:
        """Write one request. Raises ``ProtocolError(backend_unavailable)`` if the backend is gone."""
        if self._proc is None or self._proc.stdin is None:
            raise ProtocolError(ErrorCode.BACKEND_UNAVAILABLE, "the backend is not running")
        data = (message.to_line() + "\n").encode("utf-8")
        try:
            self._write(self._proc, data)
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise ProtocolError(ErrorCode.BACKEND_UNAVAILABLE, "the backend stopped accepting requests") from exc

    def stop(self, timeout: float = 3.0) -> None:
        """Ask politely, then close stdin (the backend exits on EOF), then kill. Never raises."""
        proc = self._proc
        if proc is None:
            return
        self.events.close()  # a reader waiting for room in the queue gives up
        self._stopping.set()
        if proc.poll() is None:
            try:
                self.send(protocol.ShutdownRequest(id="shutdown"))
            except ProtocolError:
                pass
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=2)
        if self._stderr is not None:
            self._stderr.join(timeout=2)
        self._close_log()

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def exit_message(self, returncode: int | None, connected: bool = False) -> str:
        """Why the backend ended before it should have. For SSH: a link that went after the hello
        (``connected``) is lost, not unconnectable; before it, what ssh or the host's shell said when
        that is the reason. Else the signal that ended it, or its exit code, and the log's last lines."""
        where = self.settings.where
        if self.stuck:
            return (f"the backend on {where} took nothing of what Blender sent it for "
                    f"{self.settings.send_stuck_seconds:g} s and was stopped; the next job starts a new one")
        if self.overlong:
            return (f"the backend on {where} sent a line over the {protocol.MAX_LINE_BYTES} bytes a message may "
                    "have, so it is broken (or hostile), and was stopped; the next job starts a new one")
        tail = self.log_tail()
        remote = self.settings.remote
        if remote is not None:
            ssh_ended = returncode is not None and returncode < 0  # the ssh client here, killed
            explained = lost_link(remote, returncode, tail) if connected or ssh_ended \
                else explain(remote, returncode, tail)
            if explained is not None:
                return explained
        name = signal_name(returncode)
        if name is not None:
            return killed(where, name, tail)
        return f"the backend stopped unexpectedly (exit code {returncode})" + (f":\n{tail}" if tail else "")

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the backend's log, for an error message."""
        path = self.settings.log_path
        if path is None or not path.is_file():
            return ""
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            text = handle.read().decode("utf-8", "replace")
        return "\n".join(text.strip().splitlines()[-lines:])


