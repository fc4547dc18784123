"""Start, stop and cancel: the backend's life cycle as buttons and script calls."""

from __future__ import annotations

import bpy

from .. import runtime
import img23d_protocol as protocol


class IMG23D_OT_backend_start(bpy.types.Operator):
    """Start the img23d backend (it loads no model until a job needs one)"""

    bl_idname = "img23d.backend_start"
    bl_label = "Start Backend"

    def execute(self, context: bpy.types.Context) -> set[str]:
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
        if runner is None or runner.finished:
            self.report({"INFO"}, "No job is running")
            return {"CANCELLED"}
        try:
            runner.cancel()
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
            return {"CANCELLED"}
        self.report({"INFO"}, "Cancelling after the current step")
        return {"FINISHED"}


classes = (IMG23D_OT_backend_start, IMG23D_OT_backend_stop, IMG23D_OT_cancel)
