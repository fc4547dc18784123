"""One request run through ``Session`` for a command that builds the protocol's request itself (``parts``, ``rig``,
``picture``): the add-on's way in, the command line's printer and Ctrl-C around it.

``run_command`` is a command's whole request, its answer or its exit code: stopped if a signal came during the
start-up, else the session opened, the request run, a refusal or a failure said as every command says it
(``progress.command_failed``); its pieces serve a command that builds its request inside the session (``parts``):
``open_session`` opens the session and first closes the runs a killed process left ``running``
(``recover_interrupted``), as every command does; ``run_request`` makes the job with the command's progress printer
and its interrupts' cancel (a signal's watcher abandons the job, or what ``abandon`` wraps around that) and runs it.
The engine is seconds of imports: a command imports this module once its arguments are checked, inside its
``Interrupts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from img23d_protocol import ProtocolError

from ..env.interrupts import Interrupts
from ..runs.folders import recover_interrupted
from ..session import Models, Session
from .progress import ProgressPrinter, command_failed, command_job, stopped_early

Abandon = Callable[[str], None]
R = TypeVar("R")


def open_session(out: Path, models: Models, tiny_set: bool = True) -> Session:
    """The session a command's job runs in (``tiny_set``: whether ``--models tiny`` builds the tiny set's replicas),
    earlier killed runs closed first."""
    session = Session(out, models, tiny_set=tiny_set)
    recover_interrupted(session.engine.settings.runs_dir)  # as every command: killed runs say so
    return session


def run_request(session: Session, request: Any, printer: ProgressPrinter, interrupts: Interrupts,
                abandon: Callable[[Abandon], Abandon] | None = None) -> Any:
    """``request``'s result under ``session``'s engine, its progress on ``printer``, cancelled by ``interrupts``
    (whose watcher calls the job's ``abandon``, or ``abandon(job.abandon)``: what a command also undoes)."""
    job = command_job(request.id, interrupts, printer)
    if abandon is not None:
        interrupts.abandon = abandon(job.abandon)
    return session.engine.run(request, job)


def run_command(out: Path, models: Models, request: Any, printer: ProgressPrinter, interrupts: Interrupts,
                answer: type[R], tiny_set: bool = True, before: Callable[[Session], None] | None = None) -> R | int:
    """A command's whole request: its result (an ``answer``, the progress line closed), or the exit code it stopped
    or failed with, said already. Stopped if a signal came during the start-up (``progress.stopped_early``), else
    the session opened, ``before`` it (what the command says first), the request run; a refusal or failure said
    as every command says it (``progress.command_failed``)."""
    if (stopped := stopped_early(interrupts)) is not None:
        return stopped
    try:
        session = open_session(out, models, tiny_set)
        if before is not None:
            before(session)
        result = run_request(session, request, printer, interrupts)
    except ProtocolError as exc:
        return command_failed(printer, exc, interrupts)
    printer.finish()
    if not isinstance(result, answer):
        raise TypeError(f"a {request.TYPE} request was answered with a {type(result).__name__}")
    return result


__all__ = ["open_session", "run_command", "run_request"]
