"""Help: open the guide's page for the place the artist is in, from the add-on's own files."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from .. import guide_pages


def open_url(uri: str) -> bool:
    """Hand the address to the system's browser (Blender's own operator); False if it refused."""
    return "FINISHED" in bpy.ops.wm.url_open(url=uri)


class IMG23D_OT_open_guide(bpy.types.Operator):
    bl_idname = "img23d.open_guide"
    bl_label = "Help"
    bl_description = "Open the guide's page for this panel (a file the add-on carries, in your browser)"

    place: StringProperty(name="Place", default="IMG23D_PT_main", options={"SKIP_SAVE"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            uri = guide_pages.page_uri(self.place)
        except (KeyError, FileNotFoundError) as exc:
            self.report({"ERROR"}, str(exc.args[0]))
            return {"CANCELLED"}
        if not open_url(uri):
            self.report({"ERROR"}, f"the browser could not be started for {uri}: open that file by hand")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Opened {uri}")
        return {"FINISHED"}


classes = (IMG23D_OT_open_guide,)
