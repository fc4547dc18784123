"""``img23d.detect``: grounding only; the boxes drawn on the image, shown in an Image Editor. With
Complete Hidden on, Detect also previews completion: its picture (each cut-out beside its completed
one, with the reason) is shown there instead, the boxes' picture staying one click away."""

from __future__ import annotations

from pathlib import Path

import bpy

from .. import box_properties, runtime, scene_import
from ..job_runner import JobRunner, Outcome
import img23d_protocol as protocol
from . import _inputs
from ._job import JobOperatorMixin, answer_cut_off_note


class IMG23D_OT_detect(JobOperatorMixin, bpy.types.Operator):
    """Find each name's box in the image and show them, before any 3D work"""

    bl_idname = "img23d.detect"
    bl_label = "Detect"
    bl_options = {"REGISTER"}

    _names: tuple[str, ...] = ()

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        image, image_name = _inputs.image_file(context)
        targets = _inputs.names(context)
        if not targets:
            raise _inputs.InputError("Detect needs at least one name")
        self._names = tuple(targets)
        request = protocol.DetectRequest(image=str(image), targets=targets, options=_inputs.options(context))
        return JobRunner(runtime.session(), context.scene, request, image_name)

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        if not outcome.ok:
            return self.report_outcome(outcome, made_something=False)
        refused = show_overlay(context, Path(outcome.run_dir), "img23d detections")
        result = outcome.result
        if isinstance(result, protocol.DetectJobResult) and result.completion_picture:
            refused = show_picture(context, Path(result.completion_picture),
                                   f"img23d completion {Path(outcome.run_dir).name}") or refused
            self.report({"INFO"}, completion_summary(result.completion))
        if refused:
            self.report({"WARNING"}, refused)
        boxes = result.boxes if isinstance(result, protocol.DetectJobResult) else {}
        # The boxes to correct, or to draw for a name not found, before Generate (panel: Boxes).
        box_properties.fill_from_detect(context.scene.img23d.boxes, list(self._names), boxes)
        found = ", ".join(f"{name} ({len(b)})" for name, b in boxes.items() if b) or "nothing"
        missing = result.not_found if isinstance(result, protocol.DetectJobResult) else []
        cut_off = answer_cut_off_note(result)
        self.report({"WARNING"} if missing or cut_off else {"INFO"},
                    f"Found: {found}" + (f"; not found: {', '.join(missing)}" if missing else "")
                    + (f". {cut_off}" if cut_off else ""))
        return {"FINISHED"}


def show_overlay(context: bpy.types.Context, run_dir: Path, label: str) -> str:
    """The run's picture with its boxes drawn on it, as an image named ``<label> <run>``, shown in
    an Image Editor if one is open. Returns why it is not shown when it was refused ("" else)."""
    return show_picture(context, run_dir / "detections.png", f"{label} {run_dir.name}")


def show_picture(context: bpy.types.Context, path: Path, name: str) -> str:
    """The picture at ``path`` as an image named ``name``, shown in an Image Editor if one is open.
    Returns why it is not shown when it was refused ("" else; nothing when there is no such file)."""
    if not path.is_file():
        return ""
    try:
        image = scene_import.load_image(path)
    except scene_import.ImportFailed as exc:
        return str(exc)
    image.name = name
    _show_in_image_editor(context, image)
    return ""


def completion_summary(completion: dict[str, list[protocol.Completion]]) -> str:
    """One line of what Detect's completion preview did: each completed name and why, or none."""
    done = [f"{name} ({c.reason})" for name, records in completion.items() for c in records if c.completed]
    failed = [c.skipped for records in completion.values() for c in records if c.skipped]
    line = "Complete Hidden completed: " + ("; ".join(done) if done else "nothing")
    return line + (". " + " ".join(failed) if failed else "")


def _show_in_image_editor(context: bpy.types.Context, image: bpy.types.Image) -> None:
    screen = context.screen
    if screen is None:
        return
    for area in screen.areas:
        if area.type == "IMAGE_EDITOR":
            area.spaces.active.image = image
            return


class IMG23D_OT_boxes_clear(bpy.types.Operator):
    """Forget every box: Generate looks for every name again"""

    bl_idname = "img23d.boxes_clear"
    bl_label = "Clear Boxes"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        context.scene.img23d.boxes.clear()
        return {"FINISHED"}


classes = (IMG23D_OT_detect, IMG23D_OT_boxes_clear)
