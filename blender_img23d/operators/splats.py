"""Export Gaussian Splat (PLY): the active mesh object as 3D Gaussian splats, from the Object menu
and the object context menu (the work is ``splat_export``)."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy_extras.io_utils import ExportHelper

from .. import splat_export


class IMG23D_OT_export_splats(bpy.types.Operator, ExportHelper):
    """Write the active mesh object as 3D Gaussian splats (a 3DGS PLY for SuperSplat and other
    splat viewers), coloured from its base colour texture"""

    bl_idname = "img23d.export_splats"
    bl_label = "Export Gaussian Splat (PLY)"
    bl_options = {"REGISTER"}

    filename_ext = ".ply"
    filter_glob: bpy.props.StringProperty(default="*.ply", options={"HIDDEN"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.active_object
        return obj is not None and obj.type == "MESH"

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if not self.filepath and context.active_object is not None:
            self.filepath = splat_export.default_path(context.active_object)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = context.active_object
        try:
            count = splat_export.export_splats(context, obj, Path(self.filepath))
        except splat_export.SplatProblem as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {count:,} splats of '{obj.name}' to {self.filepath}")
        return {"FINISHED"}


classes = (IMG23D_OT_export_splats,)
