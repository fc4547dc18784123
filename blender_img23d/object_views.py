"""More pictures of one object (issue 55): a name's views from its left, back and right for Generate,
and the selected mesh's for Re-texture.

A view is a picture file or an image already in the .blend, as the main picture is. Generate sends
them as ``GenerateRequest.views`` ({name: {side: picture}}), Re-texture as ``RetextureRequest.views``
({side: picture}); ``operators/_inputs.py`` turns them into files. What each side means is the
protocol's one convention (``img23d_protocol.views``); the words the panel shows for it are made here
from ``camera_direction``, so they follow the protocol if it ever changes.
"""

from __future__ import annotations

from typing import Any

import bpy
import img23d_protocol as protocol
from bpy.props import EnumProperty, PointerProperty, StringProperty

from . import thumbnails

# The licence-clean family's one sentence where a view is added (issue 55 item 4): no openly licensed
# multi-view shape model exists, and views are never fed to Step1X-3D's single-view model.


def side_label(side: str) -> str:
    return side.capitalize()


def side_tip(side: str) -> str:
    """What a side's picture shows, in the protocol's convention: the front camera looks along +Y, so
    the object's side toward +X is at the front picture's right."""
    across = protocol.camera_direction(side)[0]
    if across > 0.5:
        where = "which the front picture shows at its right"
    elif across < -0.5:
        where = "which the front picture shows at its left"
    else:
        where = "the side the front picture cannot see"
    own = "" if side == "back" else "own "
    return f"{side_label(side)}: a picture of the object's {own}{side} side, {where}"


SIDE_ITEMS = [(side, side_label(side), side_tip(side)) for side in protocol.SIDES]


def _ensure_preview(view: "Img23dView", context: bpy.types.Context) -> None:
    """Load the chosen file (or take the chosen image) and make its thumbnail here, not in draw()."""
    if view.source == "FILE":
        view.file_image, view.thumbnail_note = thumbnails.thumbnail_image(bpy.path.abspath(view.path))
        return
    view.thumbnail_note = ""
    if view.image is not None:
        view.image.preview_ensure()


class Img23dView(bpy.types.PropertyGroup):
    """One picture of an object from one side. ``target`` is the name it is of (empty for Re-texture's)."""

    target: StringProperty(name="Name", options={"HIDDEN"})  # type: ignore[valid-type]
    side: EnumProperty(name="Side", items=SIDE_ITEMS)  # type: ignore[valid-type]
    source: EnumProperty(  # type: ignore[valid-type]
        name="Picture", default="FILE", update=_ensure_preview,
        items=[("FILE", "File", "A picture file on disk"),
               ("DATABLOCK", "In File", "An image already loaded in this .blend")])
    path: StringProperty(name="Picture File", subtype="FILE_PATH", update=_ensure_preview)  # type: ignore[valid-type]
    file_image: PointerProperty(type=bpy.types.Image, options={"HIDDEN"})  # type: ignore[valid-type]
    thumbnail_note: StringProperty(options={"HIDDEN"})  # type: ignore[valid-type]  # why no thumbnail is shown
    image: PointerProperty(name="Image", type=bpy.types.Image, update=_ensure_preview)  # type: ignore[valid-type]

    def picture(self) -> "bpy.types.Image | None":
        """The image its thumbnail shows: the loaded file's, or the chosen image."""
        return self.file_image if self.source == "FILE" else self.image

    def owner(self) -> str:
        """How a sentence names what the view is of."""
        return f"the {self.side} view of {self.target!r}" if self.target else f"the {self.side} view"


def find(views: Any, target: str, side: str) -> "Img23dView | None":
    folded = target.casefold()
    return next((view for view in views if view.target.casefold() == folded and view.side == side), None)


def put(views: Any, target: str, side: str, path: str = "", image: "bpy.types.Image | None" = None) -> Img23dView:
    """The view of ``target`` from ``side`` (replacing the one there was): the file ``path``, or ``image``."""
    view = find(views, target, side) or views.add()
    view.target, view.side = target, side
    view.name = f"{target}:{side}"
    if image is not None:
        view.image = image
        view.source = "DATABLOCK"
    else:
        view.path = path
        view.source = "FILE"
    return view


def remove(views: Any, target: str, side: str) -> bool:
    view = find(views, target, side)
    if view is None:
        return False
    views.remove(list(views).index(view))
    return True


def targets_with_views(views: Any) -> list[str]:
    """The names that have views, each once (ignoring case), in the order they were added."""
    seen: dict[str, str] = {}
    for view in views:
        seen.setdefault(view.target.casefold(), view.target)
    return list(seen.values())


classes = (Img23dView,)
