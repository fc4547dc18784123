"""``img23d.retopologize``: the selected mesh remade as triangles or quads at the Finish panel's
face target, its colour and a normal map baked on; the original is kept, hidden, as "<name> (high)"."""

from __future__ import annotations

from pathlib import Path

import bpy

import img23d_protocol as protocol
from .. import finished_objects, held, preferences, retexture_mesh, runtime, scene_import
from ..job_runner import JobRunner, Outcome
from . import _inputs
from ._job import JobOperatorMixin, finish_fallback_notes

AS_GENERATED = protocol.TOPOLOGY_CHOICES[0]


class IMG23D_OT_retopologize(JobOperatorMixin, bpy.types.Operator):
    """Remake the selected mesh as triangles or quads (Finish panel) with its look baked on; the original stays,
    hidden, for re-baking"""

    bl_idname = "img23d.retopologize"
    bl_label = "Retopologize Selected"
    # UNDO: Blender pushes one undo step when the operator finishes (from the modal timer too),
    # after the scene changed in finish(): one Ctrl+Z puts the original back, visible and named.
    bl_options = {"REGISTER", "UNDO"}

    _object: held.Held | None = None

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        obj = selected_mesh(context)
        options = finish_options(context)
        folder = preferences.get(context).launch_settings().runs_dir / "_inputs"
        try:
            mesh_file, _ = retexture_mesh.write_mesh_file(context, obj, folder, evaluated=False, colour=True)
        except retexture_mesh.MeshProblem as exc:
            raise _inputs.InputError(str(exc)) from exc
        except OSError as exc:
            raise _inputs.InputError(f"could not write the mesh for the backend to {folder}: {exc}") from exc
        self._object = held.hold(obj)
        request = protocol.RetopoRequest(mesh=str(mesh_file), name=obj.name, options=options)
        return JobRunner(runtime.session(), context.scene, request, obj.name)

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        if not outcome.ok:
            return self.report_outcome(outcome, made_something=False)
        try:
            assert self._object is not None
            low = place_result(self._object, outcome)
        except scene_import.ImportFailed as exc:
            self.report({"ERROR"}, f"{exc}; the result is in {outcome.run_dir}")
            return {"CANCELLED"}
        for note in dict.fromkeys(outcome.notes + finish_fallback_notes(outcome.result)):
            self.report({"WARNING"}, note)
        faces = len(low.data.polygons)
        quads = sum(1 for p in low.data.polygons if p.loop_total == 4)
        self.report({"INFO"}, f"Retopologized '{low.name}': {faces:,} faces ({quads:,} quads); the original is "
                              f"hidden as '{finished_objects.high_name(low.name)}'")
        return {"FINISHED"}


def selected_mesh(context: bpy.types.Context) -> bpy.types.Object:
    """The mesh to retopologize: the one selected, in Object Mode (it is about to be replaced)."""
    return _inputs.mesh_in_object_mode(context, "retopologize", "retopologize it")


def finish_options(context: bpy.types.Context) -> "protocol.JobOptions":
    """The panel's options for a retopo job: its Topology must remake the mesh."""
    options = _inputs.options(context)
    if options.topology == AS_GENERATED:
        raise _inputs.InputError("Topology is As Generated: choose Triangles or Quads under Finish to retopologize")
    return options


def place_result(original_held: held.Held, outcome: Outcome) -> bpy.types.Object:
    """The retopo job's mesh in place of the object ``original_held`` (``finished_objects.replace_with_low``).
    Raises ``scene_import.ImportFailed`` when the object or the result is missing."""
    original = held.held_object(original_held)
    if original is None or original.type != "MESH":
        raise scene_import.ImportFailed(f"'{original_held.name}' is gone")
    path = outcome.files.get(protocol.ArtifactKind.MESH)
    if not path:
        raise scene_import.ImportFailed("the job announced no mesh")
    return finished_objects.replace_with_low(original, Path(path), outcome.notes)


classes = (IMG23D_OT_retopologize,)
