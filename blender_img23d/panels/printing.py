"""The Print panel: the printed height in millimetres and whose it is, solid or hollow, and Print Selected and
Print Run (``operators.print_selected``, docs/print.md). draw() only."""

from __future__ import annotations

import bpy

from .. import runtime
from .main import _Subpanel


class IMG23D_PT_print(_Subpanel, bpy.types.Panel):
    """A 3D print of the selection, or of the active object's whole run, as one plate in millimetres."""

    bl_idname = "IMG23D_PT_print"
    bl_label = "Print"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.img23d.printing
        layout = self.layout
        row = layout.row(align=True)
        row.prop(settings, "height_mm")
        row.prop_search(settings, "object", context.scene, "objects", text="Of")
        row = layout.row(align=True)
        row.prop(settings, "hollow")
        walls = row.row(align=True)
        walls.enabled = settings.hollow  # greyed: a solid print has no wall to choose
        walls.prop(settings, "wall_mm", text="Wall")
        walls.prop(settings, "drain_holes", text="Holes")
        layout.prop(settings, "base_mm")
        runner = runtime.active_runner
        row = layout.row(align=True)
        row.enabled = runner is None or runner.finished
        row.operator("img23d.print_selected", text="Print Selected", icon="EXPORT")
        active = context.active_object
        run = row.row(align=True)
        run.enabled = active is not None and bool(active.get("img23d_run"))
        run.operator("img23d.print_selected", text="Print Run", icon="OUTLINER_COLLECTION").whole_run = True


classes = (IMG23D_PT_print,)
