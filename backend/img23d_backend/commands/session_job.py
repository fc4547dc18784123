"""One request run through ``Session`` for a command that builds the protocol's request itself (``parts``, ``rig``,
``picture``): the add-on's way in, the command line's printer and Ctrl-C around it.

``open_session`` opens the session and first closes the runs a killed process left ``running``
(``recover_interrupted``), as every command does; ``run_request`` makes the job with the command's progress printer
and its interrupts' cancel (a signal's watcher abandons the job, or what ``abandon`` wraps around that) and runs it
(a refusal or a failure is then said as every command says it: ``progress.command_failed``). The engine is seconds
of imports: a command imports this module once its arguments are checked, inside its ``Interrupts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..env.interrupts import Interrupts
from ..jobs import Job
from ..runs.folders import recover_interrupted
from ..session import Models, Session
from .progress import ProgressPrinter

Abandon = Callable[[str], None]


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
    job = Job(id=request.id, emit=printer, cancel=interrupts.token)
    interrupts.abandon = abandon(job.abandon) if abandon else job.abandon
    return session.engine.run(request, job)


__all__ = ["open_session", "run_request"]
