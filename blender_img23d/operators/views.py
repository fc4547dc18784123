"""``img23d.view_add`` and ``img23d.view_remove``: a name's pictures from its left, back and right (or the
mesh's, for Re-texture), added and removed from the panel (``object_views``)."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from .. import object_views


class _ViewOperator:
    target: StringProperty(name="Name", description="The name the view is of", options={"HIDDEN"})  # type: ignore[valid-type]
    side: EnumProperty(name="Side", items=object_views.SIDE_ITEMS)  # type: ignore[valid-type]
    retexture: BoolProperty(  # type: ignore[valid-type]
        name="Re-texture", default=False, options={"HIDDEN"},
        description="A view of the mesh to re-texture, not of one of Generate's names")

    def views(self, context: bpy.types.Context) -> Any:
        settings = context.scene.img23d
        return settings.retexture_views if self.retexture else settings.views


class IMG23D_OT_view_add(_ViewOperator, bpy.types.Operator):
    """Add a picture of the object from one side"""

    bl_idname = "img23d.view_add"
    bl_label = "Add View"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    filepath: StringProperty(name="Picture File", subtype="FILE_PATH")  # type: ignore[valid-type]
    image: StringProperty(name="Image", description="An image already in this .blend, by name")  # type: ignore[valid-type]

    @classmethod
    def description(cls, context: bpy.types.Context, properties: Any) -> str:
        return object_views.side_tip(properties.side)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self.retexture and not self.target.strip():
            self.report({"ERROR"}, "A view needs the name it is of: add it from the name's row in Boxes and Views")
            return {"CANCELLED"}
        image = None
        if self.image:
            image = bpy.data.images.get(self.image)
            if image is None:
                self.report({"ERROR"}, f"There is no image '{self.image}' in this .blend")
                return {"CANCELLED"}
        object_views.put(self.views(context), self.target.strip(), self.side, self.filepath, image)
        return {"FINISHED"}


class IMG23D_OT_view_remove(_ViewOperator, bpy.types.Operator):
    """Remove this view: the object is made without it"""

    bl_idname = "img23d.view_remove"
    bl_label = "Remove View"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not object_views.remove(self.views(context), self.target, self.side):
            self.report({"ERROR"}, f"There is no {self.side} view of {self.target!r} to remove" if self.target
                        else f"There is no {self.side} view to remove")
            return {"CANCELLED"}
        return {"FINISHED"}


classes = (IMG23D_OT_view_add, IMG23D_OT_view_remove)
