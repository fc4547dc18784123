"""``img23d.split_parts``: the selected mesh in parts, by the panel's choice (``parts_method``): cut into one
part per name (the backend's parts job, mode split: renders of the mesh, grounding and matting, each face one
name, each cut capped; no hidden geometry invented), or drawn by a parts model (mode model: from the mesh, with
the picture, mask and names the panel gives; its licence may reach the parts, as the panel says). The parts
arrive as ``part_objects`` places them; the original stays, hidden; the mask the model used is kept as an
image for the artist to see."""

from __future__ import annotations

from pathlib import Path

import bpy

import img23d_protocol as protocol
from .. import held, model_choices, part_objects, runtime, scene_import
from ..job_runner import JobRunner, Outcome
from . import _inputs
from ._job import JobOperatorMixin


class IMG23D_OT_split_parts(JobOperatorMixin, bpy.types.Operator):
    """Cut the selected mesh into one part per name (the Parts field), each a separate object under an
    Empty at its origin; the original stays, hidden"""

    bl_idname = "img23d.split_parts"
    bl_label = "Split Selected into Parts"
    # One undo step when the job ends: Ctrl+Z removes the parts and shows the original again.
    bl_options = {"REGISTER", "UNDO"}

    names: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Parts", description="The parts' names, comma-separated (empty: the panel's Parts field)")

    _object: held.Held | None = None

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        obj = _inputs.mesh_in_object_mode(context, "split into parts", "split it into parts")
        settings = context.scene.img23d
        drawn = model_choices.parts_model(settings.parts_method)
        typed = self.names or settings.part_names
        # A split's names at most the protocol's MAX_SPLIT_PARTS, a model's at most the Max Parts it is sent: the
        # backend's own check, said here before the mesh is sent (17 to 32 names were sent and then refused).
        limit, why = (protocol.MAX_SPLIT_PARTS, "split a part again for finer parts") if drawn is None else \
            (settings.parts_max, f"{protocol.DRAWN_PARTS_WHY}: Max Parts")
        names = part_names(typed, limit, why) if drawn is None or protocol.split_names(typed) else []
        picture, mask = (model_inputs(settings, drawn, names) if drawn else ("", ""))
        # The mesh as its modifiers make it, as the artist sees it: a half modelled with a Mirror was split as its
        # half, and the whole hidden behind the parts.
        most = (protocol.MAX_SPLIT_TRIANGLES, "a split holds") if drawn is None else None
        mesh_file = _inputs.mesh_file(context, obj, evaluated=True, most=most)
        self._object = held.hold(obj)
        request = protocol.PartsRequest(mesh=mesh_file, name=obj.name, targets=names,
                                        options=_inputs.options(context))
        if drawn:
            request.mode, request.image, request.mask, request.model = "model", picture, mask, drawn.name
            request.grid, request.max_parts = int(settings.parts_grid), settings.parts_max
        return JobRunner(runtime.session(), context.scene, request, obj.name)

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        if not outcome.ok:
            return self.report_outcome(outcome, made_something=False)
        result = outcome.result
        assert self._object is not None
        original = held.held_object(self._object)
        if original is None or not isinstance(result, protocol.PartsJobResult):
            self.report({"ERROR"}, f"'{self._object.name}' is gone; its parts are in {outcome.run_dir}")
            return {"CANCELLED"}
        files = [(name, Path(path)) for name, path in outcome.meshes]
        try:
            placed = part_objects.place_parts(original, files, outcome.run_dir, outcome.notes)
        except scene_import.ImportFailed as exc:
            self.report({"ERROR"}, f"{exc}; the parts are in {outcome.run_dir}")
            return {"CANCELLED"}
        for part in result.empty:
            self.report({"WARNING"}, (part.empty_reason or f"'{part.name}' is empty")[:1].upper()
                        + (part.empty_reason or f"'{part.name}' is empty")[1:])
        for note in dict.fromkeys(outcome.notes):
            self.report({"WARNING"}, note)
        if result.mask:
            try:
                part_objects.show_mask(placed, outcome.run_dir, result.mask)
            except scene_import.ImportFailed as exc:
                self.report({"WARNING"}, f"{str(exc)[:1].upper()}{str(exc)[1:]}")
        made = ", ".join(obj.name for obj in placed.parts)
        self.report({"INFO"}, f"Split '{original.name}' into {len(placed.parts)} parts ({made}) under "
                              f"'{placed.empty.name}'; the original is hidden. {result.note[:1].upper()}"
                              f"{result.note[1:]}")
        return {"FINISHED"}


def model_inputs(settings: bpy.types.PropertyGroup, model: protocol.PartsModel,
                 names: list[str]) -> tuple[str, str]:
    """The parts model's picture and mask from the panel (absolute paths; "" for none), each checked."""
    picture = bpy.path.abspath(settings.parts_picture) if settings.parts_picture.strip() else ""
    mask = bpy.path.abspath(settings.parts_mask) if settings.parts_mask.strip() else ""
    for what, path in (("picture", picture), ("mask", mask)):
        if path and not Path(path).is_file():
            raise _inputs.InputError(f"The parts' {what} {path} is not a file: choose it again, or clear it")
    if mask and not picture:
        raise _inputs.InputError("A part mask needs the picture it was drawn on: choose the parts' Picture too")
    if names and not picture:
        raise _inputs.InputError(f"{model.label} finds the names on a picture of the object: choose the parts' "
                                 "Picture, or clear Parts to let the model find the parts")
    return picture, mask


def part_names(text: str, limit: int, why: str) -> list[str]:
    """The parts' names typed, checked as the backend checks them (``protocol.part_names``: at most ``limit``, none
    twice; one sentence when wrong)."""
    if not protocol.split_names(text):
        raise _inputs.InputError('Type the parts\' names in Parts, e.g. "shade, arm, base": one part is made '
                                 "per name")
    try:
        return protocol.part_names(text, limit, why)
    except protocol.ProtocolError as exc:
        raise _inputs.InputError(exc.message) from exc


classes = (IMG23D_OT_split_parts,)
