"""``img23d.print_selected``: the selected objects, or (Print Run) every visible object of the active object's
Generate run, made ready for a 3D printer as one plate by the backend's ``print`` job (docs/print.md): watertight,
to scale in millimetres, solid or hollow, written as a 3MF and STLs with a ``print.json``. The objects go out as
they stand in the scene (``print_meshes``); the print goes into their run's folder where they share one, else
into a run folder of its own. Nothing in the scene changes."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty

import img23d_protocol as protocol
from .. import preferences, print_meshes, runtime
from ..job_runner import JobRunner, Outcome
from . import _inputs
from ._job import JobOperatorMixin

# A backend on another machine cannot read the files written here, nor write its print where Blender reads it.
REMOTE = ("Print needs the backend on this computer: the backend in use runs on {where}. Choose a local backend "
          "in the add-on's preferences, or run `python -m img23d_backend print` there")


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
        folder = launch.runs_dir / "_inputs"
        meshes: dict[str, str] = {}
        self._skipped = list(chosen.skipped)
        for obj in chosen.objects:
            try:
                path = print_meshes.write_world_mesh(context, obj, folder)
            except OSError as exc:
                raise _inputs.InputError(f"could not write '{obj.name}' for the backend to {folder}: {exc}") from exc
            if path is None:
                self._skipped.append(f"'{obj.name}' has no faces to print")
            else:
                meshes[obj.name] = str(path)
        if not meshes:
            raise _inputs.InputError(" ".join(self._skipped) + ": nothing is left to print")
        if reference and reference not in meshes:
            raise _inputs.InputError(f"'{reference}', whose height Height gives, has no faces to print")
        request = protocol.check_print_request(protocol.PrintRequest(source=chosen.run, meshes=meshes,
                                                                     object=reference, **values))
        return JobRunner(runtime.session(), context.scene, request, names[0])

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
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


classes = (IMG23D_OT_print_selected,)
