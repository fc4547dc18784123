"""Bringing one target's GLB into the scene as exactly one object, placed as in the picture.

The glTF importer may create root empties and several mesh nodes; they are folded into one
mesh object (transforms applied), named after the target, moved into the run's collection,
sized and placed so that, seen from the front (-Y), the objects stand where their boxes were
in the image: left to right, bottoms where the boxes' bottoms were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import bpy
from mathutils import Matrix, Vector

LAYOUT_HEIGHT = 2.0   # the picture's height in Blender units (metres)
PROP_PREFIX = "img23d_"


@dataclass
class Placement:
    box: tuple[float, float, float, float]   # x0, y0, x1, y1 in pixels of the original image
    image_size: tuple[int, int]


@dataclass
class TargetFile:
    """One target's mesh as the backend made it: from an ``artifact`` event or a run's manifest."""

    path: Path
    target: str
    instance: int = 1
    box: list[float] | None = None
    image_size: list[int] | None = None
    seed: int | None = None
    run_dir: str = ""
    models: dict[str, str] | None = None


class ImportFailed(Exception):
    """The GLB could not be imported (missing, truncated, no mesh in it)."""


def import_glb(path: Path, name: str) -> bpy.types.Object:
    """Import ``path`` and return a single mesh object named ``name`` (not yet in a collection)."""
    if not path.is_file():
        raise ImportFailed(f"{path} does not exist")
    before = set(bpy.data.objects)
    try:
        result = bpy.ops.import_scene.gltf(filepath=str(path))
    except RuntimeError as exc:  # the importer reports parse errors this way
        _remove(set(bpy.data.objects) - before)
        raise ImportFailed(f"{path.name} could not be read: {str(exc).strip().splitlines()[-1]}") from exc
    created = set(bpy.data.objects) - before
    if "FINISHED" not in result:
        _remove(created)
        raise ImportFailed(f"{path.name} could not be imported")
    meshes = [o for o in created if o.type == "MESH"]
    if not meshes:
        _remove(created)
        raise ImportFailed(f"{path.name} contains no mesh")
    obj = _fold(meshes)
    _remove(created - {obj})
    obj.name = name
    obj.data.name = name
    for collection in list(obj.users_collection):
        collection.objects.unlink(obj)
    return obj


def _fold(meshes: list[bpy.types.Object]) -> bpy.types.Object:
    """Bake world transforms into the mesh data and join everything into the first mesh."""
    for obj in meshes:
        world = obj.matrix_world.copy()
        obj.parent = None
        obj.data.transform(world)
        obj.matrix_world = Matrix.Identity(4)
    target = meshes[0]
    if len(meshes) > 1:
        with bpy.context.temp_override(active_object=target, selected_editable_objects=meshes,
                                       selected_objects=meshes):
            bpy.ops.object.join()
    return target


def _remove(objects: set[bpy.types.Object]) -> None:
    for obj in objects:
        if obj.name in bpy.data.objects:
            bpy.data.objects.remove(obj, do_unlink=True)


def place(obj: bpy.types.Object, placement: Placement) -> None:
    """Scale ``obj`` to fit its box and move it where the box was (front view, -Y)."""
    width, height = placement.image_size
    x0, y0, x1, y1 = placement.box
    unit = LAYOUT_HEIGHT / height
    lo, hi = _bounds(obj)
    size_x, size_z = hi.x - lo.x, hi.z - lo.z
    fit = []
    if size_x > 1e-9:
        fit.append((x1 - x0) * unit / size_x)
    if size_z > 1e-9:
        fit.append((y1 - y0) * unit / size_z)
    scale = min(fit) if fit else 1.0
    centre = (lo + hi) / 2
    # Scale about the mesh's own bounds, then put its bottom-centre where the box's is.
    target = Vector((((x0 + x1) / 2 - width / 2) * unit, 0.0, (height - y1) * unit))
    obj.scale = (scale, scale, scale)
    obj.location = target - scale * Vector((centre.x, centre.y, lo.z))


def _bounds(obj: bpy.types.Object) -> tuple[Vector, Vector]:
    corners = [Vector(c) for c in obj.bound_box]
    lo = Vector((min(c.x for c in corners), min(c.y for c in corners), min(c.z for c in corners)))
    hi = Vector((max(c.x for c in corners), max(c.y for c in corners), max(c.z for c in corners)))
    return lo, hi


def tag(obj: bpy.types.Object, **values: Any) -> None:
    """Custom properties an artist (or a script) can read back: where the object came from."""
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        obj[PROP_PREFIX + key] = value


def add_target(collection_for: Callable[[], bpy.types.Collection], item: TargetFile) -> bpy.types.Object:
    """Import, place and tag one target. Raises ``ImportFailed``.

    The collection is asked for only once the import worked, so a run whose meshes all fail
    leaves no empty collection behind.
    """
    obj = import_glb(item.path, item.target or "img23d")
    collection_for().objects.link(obj)
    if item.box and item.image_size:
        place(obj, Placement(tuple(item.box), tuple(item.image_size)))  # type: ignore[arg-type]
    tag(obj, target=item.target, instance=item.instance, box=list(item.box or []), seed=item.seed,
        run=item.run_dir, models=item.models or {})
    return obj


def run_collection(scene: bpy.types.Scene, name: str, existing: bpy.types.Collection | None = None
                   ) -> bpy.types.Collection:
    """The run's collection; made anew (and linked to the scene) if it was deleted meanwhile."""
    if existing is not None:
        try:
            if existing.name in bpy.data.collections and existing.name in scene.collection.children:
                return existing
        except ReferenceError:  # the artist deleted it while the job ran
            pass
    collection = bpy.data.collections.new(name)
    scene.collection.children.link(collection)
    return collection
