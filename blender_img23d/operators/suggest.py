"""``img23d.suggest``: the grounding model names the picture's objects; the names fill the Names field.

The artist edits them before Generate. Several boxes for one name come back as that name once,
with All Instances on. The boxes are drawn on the picture and shown as Detect shows them.
"""

from __future__ import annotations

from pathlib import Path

import bpy

from .. import runtime
from ..job_runner import JobRunner, Outcome
import img23d_protocol as protocol
from . import _inputs
from ._job import JobOperatorMixin
from .detect import show_overlay


class IMG23D_OT_suggest(JobOperatorMixin, bpy.types.Operator):
    """Ask the grounding model which objects the picture shows and put their names in Names"""

    bl_idname = "img23d.suggest"
    bl_label = "Suggest"
    bl_options = {"REGISTER", "UNDO"}

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        image, image_name = _inputs.image_file(context)
        request = protocol.SuggestRequest(image=str(image), options=_inputs.options(context))
        return JobRunner(runtime.session(), context.scene, request, image_name)

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        if not outcome.ok:
            return self.report_outcome(outcome, made_something=False)
        result = outcome.result
        suggested = result if isinstance(result, protocol.SuggestJobResult) else protocol.SuggestJobResult(run_dir="")
        names = list(suggested.names)
        settings = context.scene.img23d
        settings.targets = ", ".join(names)
        every = suggested.all_instances
        settings.all_instances = every
        refused = show_overlay(context, Path(outcome.run_dir), "img23d suggestions")
        if refused:
            self.report({"WARNING"}, refused)
        self.report({"INFO"}, f"Suggested: {settings.targets}" + (" (every instance)" if every else ""))
        return {"FINISHED"}


classes = (IMG23D_OT_suggest,)
