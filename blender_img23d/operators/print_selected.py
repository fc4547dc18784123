"""``img23d.print_selected``: the selected objects, or (Print Run) every visible object of the active object's
Generate run, made ready for a 3D printer as one plate by the backend's ``print`` job (docs/print.md): watertight,
to scale in millimetres, solid or hollow, written as a 3MF and STLs with a ``print.json``. The objects go out as
they stand in the scene (``print_meshes``); the print goes into their run's folder where they share one, else
into a run folder of its own. Nothing in the scene changes.

What the backend would refuse is refused here before a mesh file is written (``print_meshes.printable`` and the
protocol's own check of the request as it will be sent). The backend reads the files while the job runs, so they
are removed once the session no longer holds the job (``JobMeshes``): its result or error arrived, it was
cancelled, or the backend stopped; the operator looks when its wait ends, and a timer looks on where the wait
ended first (Blender ended the modal wait, the add-on was disabled)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
from bpy.props import BoolProperty
from img23d_client.session import BackendSession
from img23d_client.waiting import Wait

import img23d_protocol as protocol
from .. import preferences, print_meshes, runtime
from ..job_runner import JobRunner, Outcome
from . import _inputs
from ._job import JobOperatorMixin

# A backend on another machine cannot read the files written here, nor write its print where Blender reads it.
REMOTE = ("Print needs the backend on this computer: the backend in use runs on {where}. Choose a local backend "
          "in the add-on's preferences, or run `python -m img23d_backend print` there")
POLL_SECONDS = 1.0  # how often a timer looks whether a job whose wait ended first has ended too


class IMG23D_OT_print_selected(JobOperatorMixin, bpy.types.Operator):
    """Make the selected objects ready for a 3D printer as one plate: watertight, Height millimetres tall, solid
    or hollow, as a 3MF and STLs (Print panel)"""

    bl_idname = "img23d.print_selected"
    bl_label = "Print Selected"
    bl_options = {"REGISTER"}  # the scene is not changed: no undo step

    whole_run: BoolProperty(  # type: ignore[valid-type]
        name="Whole Run", default=False, options={"SKIP_SAVE"},
        description="Print every visible object of the active object's Generate run, selected or not")

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        launch = preferences.get(context).launch_settings()
        if launch.remote is not None:
            raise _inputs.InputError(REMOTE.format(where=launch.where))
        settings = context.scene.img23d.printing
        try:
            values = print_meshes.settings_of(settings)
            chosen = print_meshes.pick(context, self.whole_run)
        except print_meshes.PrintProblem as exc:
            raise _inputs.InputError(str(exc)) from exc
        names = [obj.name for obj in chosen.objects]
        reference = settings.object.strip()
        if reference and reference not in names:
            raise _inputs.InputError(f"Of names '{reference}', which is not among the objects to print "
                                     f"({', '.join(names)}): pick one of them, or clear Of for the tallest")
        try:
            objects = print_meshes.printable(context, chosen)
        except print_meshes.PrintProblem as exc:
            raise _inputs.InputError(str(exc)) from exc
        self._skipped = list(chosen.skipped)
        if reference and reference not in {obj.name for obj in objects}:
            raise _inputs.InputError(f"'{reference}', whose height Height gives, has no faces to print")
        files = print_meshes.PrintFiles.plan(objects, launch.runs_dir / "_inputs")
        request = protocol.PrintRequest(source=chosen.run, meshes={name: str(path) for name, path in
                                                                   files.planned.items()}, object=reference, **values)
        try:  # the request as it will be sent, checked as the backend checks it, before a file is written
            protocol.check_print_request(request)
        except protocol.ProtocolError as exc:
            raise _inputs.InputError(exc.message[:1].upper() + exc.message[1:]) from exc
        try:
            files.write(context, objects)
        except print_meshes.PrintProblem as exc:
            raise _inputs.InputError(str(exc)) from exc
        runner = None
        try:
            runner = JobRunner(runtime.session(), context.scene, request, names[0])
        finally:
            if runner is None:  # no job was sent (the backend could not start): nothing will read them
                files.remove()
        self._meshes = JobMeshes(runner.session, runner.job_id, files)
        bpy.app.timers.register(self._meshes, first_interval=POLL_SECONDS, persistent=True)
        return runner

    def wait_released(self, wait: Wait) -> None:
        super().wait_released(wait)
        meshes = getattr(self, "_meshes", None)
        if meshes is not None and meshes() is None and bpy.app.timers.is_registered(meshes):
            bpy.app.timers.unregister(meshes)  # removed now: its timer has nothing left to look for

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        meshes = getattr(self, "_meshes", None)
        if meshes is not None and meshes.left:
            self.report({"WARNING"}, meshes.left)
        result = outcome.result
        if not outcome.ok or not isinstance(result, protocol.PrintJobResult):
            return self.report_outcome(outcome, made_something=False)
        for level, line in report_lines(result, getattr(self, "_skipped", [])):
            self.report({level}, line)
        return {"FINISHED"}


def report_lines(result: protocol.PrintJobResult, skipped: list[str]) -> list[tuple[str, str]]:
    """What the artist reads of a print: one sentence per object not printed, per note, per failed check (the
    backend's, capitalised), then the folder with the 3MF and how many were printed."""
    lines = [("WARNING", sentence[:1].upper() + sentence[1:]) for sentence in [*skipped, *result.said]]
    printed = [item for item in result.objects if item.printed]
    sizes = ", ".join(f"{item.name} {item.size_mm[2]:.1f} mm" for item in printed if item.size_mm)
    where = Path(result.threemf).name if result.threemf else "files"
    checks = "" if result.passed else "; some files failed their checks (see print.json)"
    lines.append(("INFO", f"Printed {len(printed)} of {len(result.objects)} object(s) ({sizes}) into "
                          f"{result.folder} ({where}, millimetres){checks}"))
    return lines


@dataclass(eq=False)  # a timer function: told apart by identity (``bpy.app.timers.is_registered``)
class JobMeshes:
    """A print's mesh files, removed once the session no longer holds its job (``job_id``): its result or
    error arrived, it was cancelled, or the backend stopped; not before, since the backend reads them while
    the job runs. Called by the operator when its wait ends and, as a ``bpy.app.timers`` function, every
    ``POLL_SECONDS`` until then: None once they are removed, else when to look again."""

    session: BackendSession
    job_id: str
    files: print_meshes.PrintFiles
    left: str = ""   # one sentence when some could not be removed

    def __call__(self) -> float | None:
        if self.session.job_id == self.job_id:
            return POLL_SECONDS
        self.left = self.files.remove() or self.left
        return None


classes = (IMG23D_OT_print_selected,)
