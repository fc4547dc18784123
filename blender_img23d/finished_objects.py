"""A finished object's two meshes in the scene: the low one the artist works with, and the
generated (high) one kept hidden beside it for re-baking (docs/game-ready.md, "In Blender").

The high object is named "<low name> (high)", stands exactly where the low one stands, in the same
collections, hidden with the eye (this view layer) and from renders. The eye rather than
"Disable in Viewports": an artist reveals it with the outliner's eye or Alt+H, and Blender's
Selected to Active bake needs it visible and selectable, which a disabled object is not.
Each points at the other with an object custom property (``img23d_high`` on the low object,
``img23d_low`` on the high one): an ID reference, so renaming either keeps the link.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from img23d_client import texture_guard

from . import scene_import

HIGH_PROP = "img23d_high"
LOW_PROP = "img23d_low"
HIGH_SUFFIX = " (high)"


def high_name(name: str) -> str:
    return name + HIGH_SUFFIX


def hide_high(obj: bpy.types.Object, view_layer: bpy.types.ViewLayer | None = None) -> None:
    """Out of sight and out of renders, one click (or Alt+H) from view."""
    obj.hide_render = True
    obj.hide_set(True, view_layer=view_layer or bpy.context.view_layer)


def link(low: bpy.types.Object, high: bpy.types.Object) -> None:
    low[HIGH_PROP] = high
    high[LOW_PROP] = low


def high_of(low: bpy.types.Object) -> bpy.types.Object | None:
    """The low object's high mesh, if it has one still in the file."""
    high = low.get(HIGH_PROP)
    return high if isinstance(high, bpy.types.Object) and high.type == "MESH" else None


def follow(low: bpy.types.Object) -> None:
    """The low object's high mesh moved to where the low one stands now (Re-layout, Keep): it was left where it
    was, and a bake from the high mesh onto the low read misplaced geometry."""
    high = high_of(low)
    if high is not None:
        high.matrix_world = low.matrix_world.copy()


def add_high_mesh(low: bpy.types.Object, path: Path, budget: texture_guard.RunBudget | None = None
                  ) -> bpy.types.Object:
    """Import the generated mesh at ``path`` hidden beside ``low`` (already placed and linked to
    its collection), in the same place; a low object that has a high one already (Regenerate)
    gets the new mesh into that object; its images are charged to ``budget``, its run's. Raises
    ``scene_import.ImportFailed``."""
    imported = scene_import.import_glb(path, high_name(low.name), budget=budget)
    high = high_of(low)
    if high is not None:
        old = high.data
        high.data = imported.data
        bpy.data.objects.remove(imported)
        if old.users == 0:
            bpy.data.meshes.remove(old)
    else:
        high = imported
        for collection in low.users_collection:
            collection.objects.link(high)
        hide_high(high)
        link(low, high)
    follow(low)  # both GLBs are in the same space: the run's
    return high


def replace_with_low(original: bpy.types.Object, low_path: Path, notes: list[str] | None = None) -> bpy.types.Object:
    """Retopologize's result into the scene: the mesh at ``low_path`` (made from ``original``'s
    object-space mesh) becomes an object that takes ``original``'s place (name, transform,
    collections, parent, children, selection, the tags of where it came from); ``original`` is renamed
    "<name> (high)", hidden and linked to it. No undo push: the operator's UNDO flag makes the whole job one step.
    Raises ``scene_import.ImportFailed``, leaving the scene as it was."""
    name = original.name
    low = scene_import.import_glb(low_path, name + " (low)", notes)
    for collection in original.users_collection:
        collection.objects.link(low)
    scene_import.stand_in_for(low, original)
    scene_import.move_origin(original, low)
    for child in original.children:
        # Same world matrix as the original, so each child's parent inverse still holds.
        child.parent = low
    original.name = high_name(name)
    if original.data.users == 1 and original.data.name == name:  # shared mesh data keeps its name
        original.data.name = high_name(name)
    low.name = name   # free now; if another object took the name meanwhile, Blender adds a suffix
    low.data.name = name
    hide_high(original)
    original.select_set(False)
    link(low, original)
    low.select_set(True)
    bpy.context.view_layer.objects.active = low
    return low
