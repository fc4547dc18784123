"""Ctrl-C, SIGTERM and a hang-up (SIGHUP) during a command-line job: a cancellation, never an exception in library
code.

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread happens to be. Inside
a library that is a lottery: trimesh wraps an import in ``except BaseException``, so a Ctrl-C
that lands while hy3dgen is first imported is swallowed and the job runs to its end; one that
lands elsewhere leaves the manifest saying ``running`` forever. Here a signal only cancels the
job's token, and the job stops at its next check, closing its manifest as ``cancelled``.

The job keeps the main thread (pymeshlab, which hy3dgen imports where it is installed, corrupts
the heap at exit when it ran on another one). Python's own handlers run only between bytecodes, which may be seconds away inside a
torch op, so the signal is also written to a socket by C code at once (``set_wakeup_fd``) and
a watcher thread acts on it: it cancels the token, and on a second signal, or when the job has
not stopped ``GRACE_SECONDS`` after the first, it closes the job's manifest and ends the process.
"""

from __future__ import annotations

import faulthandler
import os
import select
import signal
import socket
import threading
import time
from types import FrameType
from typing import Callable

from .job_control import CancelToken

GRACE_SECONDS = 10.0
ABANDON_LOOK_SECONDS = 0.25   # past the grace, how often the watcher looks for a job to abandon
SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)
HANGUP = getattr(signal, "SIGHUP", None)   # POSIX only
# The service also stops on a hang-up (a terminal closed under Blender reaches its whole process
# group): by default SIGHUP would end it on the spot, leaving its workers and its job's manifest.
SERVE_SIGNALS = SIGNALS + tuple(s for s in (HANGUP,) if s is not None)


def command_signals() -> tuple[int, ...]:
    """The signals a command takes as a cancel: Ctrl-C, SIGTERM and a hang-up (its terminal closed, its SSH link
    dropped), which by default ended it on the spot (exit 129) with its manifest left ``running`` and a batch's lock
    left behind. A hang-up the process ignores stays ignored: ``nohup`` asked it to outlive its terminal (the
    installer's command line keeps it so too)."""
    if HANGUP is None or signal.getsignal(HANGUP) is signal.SIG_IGN:
        return SIGNALS
    return SIGNALS + (HANGUP,)


def ignore_in_worker() -> None:
    """First in a worker process of a command's (a batch's worker, the UV unwrap's): Ctrl-C and a hang-up reach the
    terminal's whole process group, and the command decides what they do (it cancels the worker's work, or kills
    it); the worker's own KeyboardInterrupt, or its death by SIGHUP, would only lose that work mid-way."""
    for signum in (signal.SIGINT, HANGUP):
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)


def exit_code(signum: int) -> int:
    """The shell's convention for "ended by signal N": 130 after Ctrl-C, 143 after SIGTERM, 129 after a hang-up."""
    return 128 + int(signum)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: nothing, so no KeyboardInterrupt; the watcher thread acts."""


class Interrupts:
    """Which signals arrived; ``token`` is cancelled by the first. Install on the main thread."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.token = CancelToken()
        self.received: list[int] = []
        self.grace = grace
        # Set when a job starts: closes its manifest if the process must end under it.
        self.abandon: Callable[[str], None] | None = None
        self._previous: dict[int, object] = {}
        self._previous_fd = -1
        self._finished = threading.Event()
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None

    @property
    def signal(self) -> int | None:
        return self.received[0] if self.received else None

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""

    def install(self) -> "Interrupts":
        # A socket pair, not a pipe: set_wakeup_fd and select take sockets on every platform.
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in command_signals():
            self._previous[signum] = signal.signal(signum, _ignore)
        threading.Thread(target=self._watch, name="signal-watcher", daemon=True).start()
        return self

    def __enter__(self) -> "Interrupts":
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        self._finished.set()
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_fd)
        if self._writer is not None:
            try:
                self._writer.send(b"\0")  # wake the watcher so that it sees it is done
            except OSError:
                pass

    # -- the watcher thread ------------------------------------------------------------------------

    def _watch(self) -> None:
        assert self._reader is not None
        deadline: float | None = None
        while not self._finished.is_set():
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                # Past the grace with nothing to abandon yet (no job made): look again now and then. A timeout
                # of 0 here spun a whole core until the job came, or for ever.
                timeout = ABANDON_LOOK_SECONDS
            ready, _, _ = select.select([self._reader], [], [], timeout)
            if self._finished.is_set():
                break
            if ready:
                for signum in self._reader.recv(64):
                    if signum:
                        self._on_signal(signum)
                if self.received and deadline is None:
                    deadline = time.monotonic() + self.grace
            if len(self.received) > 1:
                self._give_up("before a second signal")
            elif deadline is not None and time.monotonic() >= deadline and self.abandon is not None:
                self._give_up(f"within {self.grace:g} s")
        for sock in (self._reader, self._writer):
            if sock is not None:
                sock.close()

    def _on_signal(self, signum: int) -> None:
        self.received.append(signum)
        self.token.cancel()
        more = " (press Ctrl-C again to stop at once)" if len(self.received) == 1 else ""
        _say(f"\n{signal.Signals(signum).name}: cancelling the job{more}\n")

    def _give_up(self, when: str) -> None:
        """The job did not stop: close its manifest here and end the process (the main thread
        may sit inside a C call for a long time yet)."""
        assert self.signal is not None
        if self.abandon is not None:
            self.abandon(f"interrupted by {self.name}; the job did not stop {when}")
        _say(f"{self.name}: stopped\n")
        os._exit(exit_code(self.signal))


def _say(text: str) -> None:
    """``text`` on stderr from the watcher thread; a terminal that hung up (EIO) must not end the watcher, which
    still has the job to stop and its manifest to close."""
    try:
        os.write(2, text.encode())
    except OSError:
        pass


class Interrupted(BaseException):
    """A signal, raised on the ``serve`` loop's thread: the loop cancels the job and ends.

    Raising is safe there, unlike in a job: that thread runs only the request loop (jobs run
    on worker threads), so the exception lands in our own code, never inside a library."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_on_signals() -> None:
    """Make SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` once; later ones are ignored, so that
    closing the job's manifest is not itself interrupted (it takes at most a second or so). SIGUSR1
    (POSIX) writes every thread's stack to stderr, the backend's log, and the service carries on:
    what a backend that does not answer or end is doing, for a person or a test to read."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)

    def handler(signum: int, frame: FrameType | None) -> None:
        for other in SERVE_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum)

    for signum in SERVE_SIGNALS:
        signal.signal(signum, handler)
