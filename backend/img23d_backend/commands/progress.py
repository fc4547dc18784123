"""How a command shows a job's protocol events: a one-line progress bar on a terminal, plain lines
elsewhere, and a job's estimate (``ESTIMATE_STAGE``) as a whole line of its own that stays, above the bar; what it
says of a job that did not finish; and where its log lines go (stderr)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

from img23d_protocol import ESTIMATE_STAGE, Artifact, Error, ErrorCode, Message, Progress, ProtocolError

from ..env.heartbeat import interval_seconds
from ..env.interrupts import Interrupts, exit_code
from .options import failure_code, usage_message


def log_to_stderr(verbose: bool, prefix: str = "") -> None:
    """Every command's logging: on stderr (stdout is for results or the protocol), details with -v; until
    the command ends (``command_logging``). A handler of its own, not ``logging.basicConfig``: that does
    nothing where the root logger has a handler already, so a second command in one process (the Python
    API's, a test's) logged to the first one's stderr at the first one's level, and one run under a host
    that logs (pytest) logged nothing on its stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prefix}%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


@contextmanager
def command_logging() -> Iterator[None]:
    """A command's span: the root logger's handlers and level as they were before it, after it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal, where the bar is redrawn in place (a test stands in a terminal here)."""
    return stream.isatty()


class ProgressPrinter:
    """Shows protocol events as a one-line progress bar on a terminal, plain lines elsewhere; an estimate as a
    whole line that stays (on a terminal the bar overwrote it within milliseconds, cut at ``BAR_CHARS``)."""

    WIDTH = 24
    BAR_CHARS = 110   # the bar's line on a terminal: one line of a narrow one, redrawn in place

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = is_terminal(stream)
        self.run_dir: str | None = None
        self._last_stage = ""
        self._last_line = 0.0
        # Off a terminal, within one stage, a line at most as often as a stage's heartbeat beats (a minute).
        self._quiet_seconds = interval_seconds()
        self._open_line = False
        # The job's thread and a stage's heartbeat (env.heartbeat) both report: one line at a time.
        self._lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        with self._lock:
            self._show(message)

    def _show(self, message: Message) -> None:
        if isinstance(message, Progress):
            self._progress(message)
        elif isinstance(message, Artifact):
            if message.kind == "run":
                self.run_dir = message.path
            elif message.kind == "mesh":
                self._line(f"  + {message.target}: {message.path}")
        elif isinstance(message, Error):
            self._line(f"  ! {message.target or ''}: {message.message} [{message.code}]")

    def _progress(self, p: Progress) -> None:
        if p.stage == ESTIMATE_STAGE:
            self._estimate(p.message)
            return
        fraction = p.step / p.total if p.total else 0.0
        filled = int(fraction * self.WIDTH)
        text = f"[{p.stage:<9}] {'#' * filled}{'.' * (self.WIDTH - filled)} {p.step}/{p.total} {p.message}"
        if self.tty:
            self.stream.write("\r" + text[:self.BAR_CHARS].ljust(self.BAR_CHARS))
            self.stream.flush()
            self._open_line = True
        elif p.stage != self._last_stage or p.step in (0, p.total) \
                or time.monotonic() - self._last_line >= self._quiet_seconds:
            # Step 0 is where a stage says what it will do and how long it expects to take (the parts'
            # "drawing up to 40 parts, about 90 s"): said before the work, in a log as on a terminal.
            self._line(text)
        self._last_stage = p.stage

    def _estimate(self, text: str) -> None:
        """What the job expects to take, whole, on a line of its own; on a terminal the bar is cleared first and
        drawn again below it by the next event."""
        if self.tty and self._open_line:
            self.stream.write("\r" + " " * self.BAR_CHARS + "\r")
            self._open_line = False
        self._line(f"expected: {text}")

    def _line(self, text: str) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last_line = time.monotonic()

    def finish(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False


def job_failed(printer: ProgressPrinter, exc: ProtocolError, message: str, interrupts: Interrupts, failed: int) -> int:
    """A command's job that did not finish: the progress line closed, its one sentence (``message``) and
    code, and the run folder it kept, on stderr; the exit code a signal's cancel means, else ``failed``."""
    printer.finish()
    print(f"error: {message} [{exc.code.value}]", file=sys.stderr)
    if printer.run_dir:
        print(f"run folder (kept): {printer.run_dir}", file=sys.stderr)
    if exc.code is ErrorCode.CANCELLED and interrupts.signal is not None:
        return exit_code(interrupts.signal)
    return failed


def stopped_early(interrupts: Interrupts) -> int | None:
    """A Ctrl-C or SIGTERM that came while the engine's modules were imported, before any job: said in one line,
    and the exit code it means; None when none came."""
    if interrupts.signal is None:
        return None
    print(f"{interrupts.name}: stopped before the job started; nothing was written", file=sys.stderr)
    return exit_code(interrupts.signal)


def command_failed(printer: ProgressPrinter, exc: ProtocolError, interrupts: Interrupts) -> int:
    """``job_failed`` with the exit code every command gives: 2 for a bad request, 1 for any other failure (a
    signal's own code for its cancel)."""
    return job_failed(printer, exc, usage_message(exc), interrupts, failure_code(exc))


def command_job(job_id: str, interrupts: Interrupts, printer: ProgressPrinter | None = None) -> Any:
    """A command's job (``jobs.Job``), printing its progress on stderr (its ``emit``: ``printer``, else a new
    ``ProgressPrinter``): an interrupt cancels it, and a second one, or a job still running 10 s after the first,
    closes its run as cancelled before the process ends (``Interrupts.abandon``; without it a manifest stayed
    ``running``)."""
    from ..jobs import Job  # the engine's modules: seconds of imports, once the arguments are checked

    job = Job(id=job_id, emit=printer or ProgressPrinter(sys.stderr), cancel=interrupts.token)
    interrupts.abandon = job.abandon
    return job

