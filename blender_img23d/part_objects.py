"""A parts job's meshes into the scene: one collection per split object, an Empty at the object's
origin holding one object per part, named after its part; the object itself kept, hidden.

The parts come in the object's own space (the mesh file the add-on sent is object space, and the
backend writes each part in that frame), so each part sits at the identity under an Empty that takes
the object's transform and parent: together they stand exactly where the object stood. Placing is all
or nothing: a part that does not import removes what was placed, and the scene stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from . import held, scene_import

PART_OF = "img23d_part_of"   # on each part and its Empty: the object it was split from
PART_MASK = "img23d_part_mask"   # on the Empty: the part mask the parts model used (a file in the run)
SUFFIX = " parts"


@dataclass(frozen=True)
class PlacedParts:
    empty: bpy.types.Object
    collection: bpy.types.Collection
    parts: list[bpy.types.Object]


def place_parts(original: bpy.types.Object, parts: list[tuple[str, Path]], run_dir: str,
                notes: list[str] | None = None) -> PlacedParts:
    """Each ``(part name, GLB)`` of ``parts`` as an object named after its part, under an Empty at
    ``original``'s origin, in a new collection "<name> parts" beside ``original``'s; ``original``
    hidden (viewport and render), its data untouched. Raises ``scene_import.ImportFailed`` and leaves
    the scene as it was when a part cannot be imported."""
    home = original.users_collection[0] if original.users_collection else bpy.context.scene.collection
    collection = bpy.data.collections.new(original.name + SUFFIX)
    empty = bpy.data.objects.new(original.name + SUFFIX, None)
    empty.empty_display_type = "PLAIN_AXES"
    placed: list[bpy.types.Object] = []
    try:
        for name, path in parts:
            obj = scene_import.import_glb(path, name, notes)
            placed.append(obj)
    except scene_import.ImportFailed:
        for obj in placed:
            bpy.data.objects.remove(obj)
        bpy.data.objects.remove(empty)
        bpy.data.collections.remove(collection)
        raise
    home.children.link(collection)
    collection.objects.link(empty)
    scene_import.stand_in_for(empty, original)
    empty[PART_OF] = original.name
    for obj in placed:
        collection.objects.link(obj)
        obj.parent = empty
        obj[PART_OF], obj["img23d_run"] = original.name, run_dir
    # Hidden and selected only where the view layer holds them: in an excluded collection hide_set raised after
    # the parts were linked, and the scene was left half changed.
    bpy.context.view_layer.update()   # the view layer's objects include the parts' only once it has synced
    layer = bpy.context.view_layer.objects
    if layer.get(original.name) is not None:
        original.hide_set(True)
        original.select_set(False)
    original.hide_render = True
    shown = [obj for obj in placed if layer.get(obj.name) is not None]
    for obj in shown:
        obj.select_set(True)
    if shown:
        layer.active = shown[0]
    return PlacedParts(empty=empty, collection=collection, parts=placed)


def follow_whole(scene: bpy.types.Scene, original: bpy.types.Object) -> None:
    """Stand the parts of ``original`` (their Empties, ``PART_OF`` it) where it stands now: Re-layout moved the
    hidden whole and left its parts, the object the artist sees, where the picture no longer put it."""
    for empty in scene.objects:
        if empty.type == "EMPTY" and empty.get(PART_OF) == original.name:
            empty.matrix_world = original.matrix_world.copy()


def whole_of(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The object ``obj`` (a part, or its Empty) was split from, when it is still in the file; else ``obj``."""
    name = obj.get(PART_OF) if obj is not None else None
    return bpy.data.objects.get(name, obj) if isinstance(name, str) else obj


def show_mask(placed: PlacedParts, run_dir: str, relative: str) -> bpy.types.Image:
    """The part mask the model used (``relative``, a file the result names in its run) as an image in the file
    ("<object> part mask", in the Image Editor's list), named on the Empty. The name comes from another
    process: ``scene_import.ImportFailed`` (one sentence; the parts stand either way) when it leaves the run
    folder (a symlink out included), when its header says Blender would hold more of it than of img23d's largest
    texture (read before Blender loads a pixel), or when it is no image Blender can read."""
    path = scene_import.run_file(run_dir, relative)
    if path is None:
        raise scene_import.ImportFailed(f"the part mask {relative!r} is not in its run folder, so it is not shown")
    image = scene_import.load_image(path)
    image.name = f"{placed.empty[PART_OF]} part mask"
    placed.empty[PART_MASK] = str(path)
    return image


def place_generated_parts(made: list[held.Held], targets: Any, run_dir: str, notes: list[str]) -> int:
    """A Generate's objects (``made``, held: renamed while the job ran, they were lost by name, or an object given
    the old name took their parts) made in parts too: each one's parts (its record's ``parts``) under an Empty where
    it stands, the whole hidden. Paths come from another process: one that leaves the run folder is refused, said
    in ``notes`` as any part that does not import. Returns how many objects were placed in parts."""
    by_key = {obj.get("img23d_key"): obj for one in made if (obj := held.held_object(one)) is not None}
    placed = 0
    for record in targets or ():
        parts = getattr(record, "parts", None)
        original = by_key.get(record.stem)
        if parts is None or original is None or not parts.files:
            continue
        files = []
        for name, relative in parts.files.items():
            path = scene_import.run_file(run_dir, relative)
            if path is None:
                notes.append(f"{record.target}: its part {name!r} names a file outside its run, so it was left out")
                continue
            files.append((name, path))
        try:
            place_parts(original, files, run_dir, notes)
        except scene_import.ImportFailed as exc:
            notes.append(f"{record.target}: its parts could not be placed ({exc}); they are in {run_dir}")
            continue
        placed += 1
    return placed
