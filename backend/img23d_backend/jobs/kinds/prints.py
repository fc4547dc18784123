"""Print (protocol 1.28's ``print`` request, issue 90): the add-on's Print Selected, run through the very
``printing.request.make_print`` the command line's ``print`` runs; no model is loaded.

The wire's request was checked on arrival (``img23d_protocol.prints``); one made in this process (the Python
API) is checked here the same way. ``make_print`` takes it as it came, the one print request the command line
builds too: a run folder or a mesh file (``source``), or the scene's objects as the add-on wrote them in world
space (``meshes``), with the run they came from, which keeps the print. Each step ``make_print`` says is a progress
event of stage ``print``; a long step says so now and then (``env.heartbeat``), so the add-on's watchdog knows
the backend is alive; a cancel stops the print between objects with nothing written (``make_print``'s
``check``). The result names the print's folder, its 3MF and ``print.json``, each object's record and every
sentence said.
"""

from __future__ import annotations

from pathlib import Path

from img23d_protocol import (ErrorCode, PrintedObject, PrintJobResult, PrintRequest, Progress, ProtocolError,
                             check_print_request)

from ...env.busy_time import busy_seconds
from ...env.heartbeat import Heartbeat
from ...printing import request as printing
from ...printing.record import PRINT_RECORD
from ..context import EngineContext, Job

STAGE = "print"


def run_print(engine: EngineContext, request: PrintRequest, job: Job) -> PrintJobResult:
    """Print what ``request`` names into its run (or a run of its own in the engine's runs folder)."""
    check_print_request(request)
    if request.source and not Path(request.source).exists():
        what = "the run folder the objects came from" if request.meshes else "a run folder or mesh file"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{request.source} is not there: give {what}")

    def say(message: str) -> None:
        job.emit(Progress(job=job.id, stage=STAGE, step=0, total=1, message=message))

    with Heartbeat(lambda seconds: say(f"print: still working, {seconds:.0f} s so far"), busy_seconds):
        made = printing.make_print(request, job.runs_dir or engine.settings.runs_dir, say, job.cancel.check)
    job.emit(Progress(job=job.id, stage=STAGE, step=1, total=1, message=f"printed into {made.folder}"))
    record = made.record
    objects = tuple(PrintedObject(name=item.name, printed=item.printed, refused=item.refused, size_mm=item.size_mm,
                                  watertight=item.watertight, volume_mm3=item.volume_mm3, stl=item.stl)
                    for item in record.objects)
    return PrintJobResult(run_dir=str(made.folder.parent), folder=str(made.folder),
                          threemf=str(made.folder / record.threemf) if record.threemf else None,
                          record=str(made.folder / PRINT_RECORD), objects=objects, said=list(made.said),
                          passed=record.all_passed)


__all__ = ["run_print"]
