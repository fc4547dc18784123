"""Start, stop and cancel: the backend's life cycle as buttons and script calls."""

from __future__ import annotations

from collections.abc import Callable

import bpy

from .. import runtime
import img23d_protocol as protocol


class IMG23D_OT_backend_start(bpy.types.Operator):
    """Start the img23d backend (it loads no model until a job needs one)"""

    bl_idname = "img23d.backend_start"
    bl_label = "Start Backend"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if refused := runtime.refused_while_installing():
            self.report({"ERROR"}, refused)
            return {"CANCELLED"}
        session = runtime.session()
        try:
            session.start()
            if bpy.app.background:
                session.wait_ready()
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        self.report({"INFO"}, f"Backend {session.state.value}")
        return {"FINISHED"}


class IMG23D_OT_backend_stop(bpy.types.Operator):
    """Stop the img23d backend and free its memory"""

    bl_idname = "img23d.backend_stop"
    bl_label = "Stop Backend"

    def execute(self, context: bpy.types.Context) -> set[str]:
        # No cancel first: stopping ends the job (its runner hears one sentence at its next tick),
        # and a backend that no longer reads would make a cancel fail. Blender never waits for it.
        if runtime.has_session():
            runtime.session().stop(wait=bpy.app.background)
        self.report({"INFO"}, "Backend stopped")
        return {"FINISHED"}


class IMG23D_OT_cancel(bpy.types.Operator):
    """Cancel the running img23d job (what already arrived stays in the scene)"""

    bl_idname = "img23d.cancel"
    bl_label = "Cancel"

    def execute(self, context: bpy.types.Context) -> set[str]:
        runner = runtime.active_runner
        running = runner is not None and not runner.finished
        if not ask_to_cancel(self, runner.cancel if running else None, "No job is running"):
            return {"CANCELLED"}
        self.report({"INFO"}, "Cancelling after the current step")
        return {"FINISHED"}


def ask_to_cancel(operator: bpy.types.Operator, cancel: Callable[[], None] | None, nothing: str) -> bool:
    """Ask the backend to cancel through ``cancel`` (None: nothing of the kind is running, reported as
    ``nothing``); a refusal is reported as an error. True when the backend was asked."""
    if cancel is None:
        operator.report({"INFO"}, nothing)
        return False
    try:
        cancel()
    except protocol.ProtocolError as exc:
        operator.report({"ERROR"}, exc.message)
        return False
    return True


classes = (IMG23D_OT_backend_start, IMG23D_OT_backend_stop, IMG23D_OT_cancel)
