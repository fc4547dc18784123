"""The datablocks a job comes back to when it ends (the object Regenerate, Re-texture, Retopologize, Split into
Parts or a rig works on, the scene a Generate fills), held by Blender's ``session_uid``, which stays the same
through renames and undo: an artist may rename them while the job runs. Held by name, a renamed object was
"gone", and an object the artist then gave the old name got the regenerated mesh and img23d's tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy


@dataclass(frozen=True)
class Held:
    """A datablock by its session id, and its name when the job began (for a sentence when it is gone)."""

    uid: int
    name: str


def hold(datablock: Any) -> Held:
    return Held(uid=datablock.session_uid, name=datablock.name)


def held_object(held: Held) -> bpy.types.Object | None:
    """The object ``held`` names, whatever it is called now; None when it was deleted."""
    return next((obj for obj in bpy.data.objects if obj.session_uid == held.uid), None)


def held_scene(held: Held) -> bpy.types.Scene | None:
    """The scene ``held`` names, whatever it is called now; None when it was deleted."""
    return next((scene for scene in bpy.data.scenes if scene.session_uid == held.uid), None)
