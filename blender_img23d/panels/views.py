"""Drawing the views of one object (``object_views``): a button to add each missing side, and for each
given side its thumbnail, its picture (a file or an image in the .blend) and an X to remove it."""

from __future__ import annotations

from typing import Any

import bpy
import img23d_protocol as protocol

from .. import object_views, preferences

THUMBNAIL_SCALE = 3.0


def panel_names(settings: bpy.types.PropertyGroup) -> list[str]:
    """The names the Boxes panel lists: those with a box, the Names field's, then any that only have
    views left (a name taken out of Names keeps its views until they are removed), each once."""
    try:
        typed = protocol.names_from_text(settings.targets, "Names")
    except protocol.ProtocolError:  # Generate says what is wrong with the field; the panel lists what it can
        typed = []
    listed: dict[str, str] = {}
    for name in [box.name for box in settings.boxes] + typed + object_views.targets_with_views(settings.views):
        listed.setdefault(name.casefold(), name)
    return list(listed.values())


def draw_views(layout: bpy.types.UILayout, views: Any, target: str, retexture: bool = False) -> None:
    """``target``'s views (Re-texture's when ``retexture``): add buttons for the missing sides, then each view."""
    missing = [side for side in protocol.SIDES if object_views.find(views, target, side) is None]
    if missing:
        row = layout.row(align=True)
        row.label(text="Views:" if len(missing) == len(protocol.SIDES) else "Add:")
        for side in missing:
            add = row.operator("img23d.view_add", text=object_views.side_label(side), icon="ADD")
            add.target, add.side, add.retexture = target, side, retexture
    for side in protocol.SIDES:
        view = object_views.find(views, target, side)
        if view is not None:
            _draw_view(layout, view, retexture)


def _draw_view(layout: bpy.types.UILayout, view: Any, retexture: bool) -> None:
    row = layout.row()
    picture = view.picture()
    if picture is not None and picture.preview is not None:  # made when the picture was chosen
        row.template_icon(icon_value=picture.preview.icon_id, scale=THUMBNAIL_SCALE)
    column = row.column(align=True)
    head = column.row(align=True)
    head.label(text=object_views.side_label(view.side))
    head.prop(view, "source", expand=True)
    remove = head.operator("img23d.view_remove", text="", icon="X")
    remove.target, remove.side, remove.retexture = view.target, view.side, retexture
    if view.source == "FILE":
        column.prop(view, "path", text="")
        if view.thumbnail_note:
            column.label(text=view.thumbnail_note, icon="INFO")
    else:
        column.template_ID(view, "image", open="image.open")


def draw_clean_family_note(layout: bpy.types.UILayout, context: bpy.types.Context, views: Any) -> None:
    """With a view given and a family without a multi-view shape model chosen (the licence-clean one): its
    one sentence, the one the job says (issue 55 item 4)."""
    note = protocol.model_family(preferences.get(context).family).views_front_only if len(views) else ""
    if note:
        column = layout.column(align=True)
        head, _, rest = note.partition(": ")
        column.label(text=head + ":", icon="INFO")  # two lines: the sidebar is narrow
        column.label(text=rest, icon="BLANK1")
