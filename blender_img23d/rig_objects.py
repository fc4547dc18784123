"""A rig job's answer in the scene, built with data, not window operators: an Armature of the result's bones
where the mesh stands (or the artist's own), a vertex group per bone holding each vertex's weights, and an
Armature modifier; and the Pose Test, which swings the limbs for a look and is undone with Ctrl+Z.

The weights come from the backend's ``.npz`` (each vertex's four strongest bones, in the order of the mesh's
vertices as the add-on sent them): from another process, perhaps another machine, so its sizes are bounded
before it is unpacked and its shapes, indices and values checked before anything in the scene changes
(``img23d_protocol.rig_weights``); a file that does not fit the mesh is one sentence.
"""

from __future__ import annotations

import math
from typing import Any

import bpy
import numpy as np
from img23d_protocol import rig_weights
from img23d_protocol.rig_weights import VertexWeights
from mathutils import Quaternion, Vector

from . import scene_import

RIGGED_FROM = "img23d_rigged_from"   # on an armature img23d made: the mesh it was made for
RIGGED_BY = "img23d_rigged_by"       # ... and what made its skeleton ("SkinTokens", "shape", "single bone")
LIMB_WORDS = ("arm", "leg", "hand", "foot", "thigh", "shin", "calf", "knee", "elbow", "tail", "wing", "limb")
SWING_DEGREES = 35.0


class RigProblem(Exception):
    """One sentence: why the rig could not be put on the mesh."""


def read_weights(run_dir: str, relative: str, vertices: int, bones: int) -> VertexWeights:
    """The result's weights file, inside its run folder, fitting ``vertices`` and ``bones``; every size it
    declares bounded before it is unpacked (``img23d_protocol.rig_weights``)."""
    path = scene_import.run_file(run_dir, relative)
    if path is None or not path.is_file():
        raise RigProblem(f"the rig's weights file {relative!r} is not in its run folder")
    try:
        return rig_weights.read_weights(path, vertices, bones)
    except rig_weights.WeightsRefused as exc:
        raise RigProblem(f"the rig's weights file {path.name} {exc}: rig the mesh again") from None


def build_armature(mesh: bpy.types.Object, bones: Any, name: str, source: str = "") -> bpy.types.Object:
    """An Armature object standing where ``mesh`` stands, with ``bones`` (heads and tails in the mesh's space)."""
    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    for collection in mesh.users_collection or [bpy.context.scene.collection]:
        collection.objects.link(obj)
    obj.matrix_world = mesh.matrix_world.copy()
    obj[RIGGED_FROM], obj[RIGGED_BY] = mesh.name, source
    active, mode_of = bpy.context.view_layer.objects.active, mesh.mode
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")   # edit bones exist only in Edit Mode (no window needed)
    try:
        made = []
        for bone in bones:
            edit = armature.edit_bones.new(bone.name)
            edit.head, edit.tail = Vector(bone.head), Vector(bone.tail)
            if (edit.tail - edit.head).length < 1e-6:   # Blender drops a zero-length bone
                edit.tail = edit.head + Vector((0.0, 0.0, 1e-3))
            made.append(edit)
        for edit, bone in zip(made, bones):
            if bone.parent >= 0:
                edit.parent = made[bone.parent]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        bpy.context.view_layer.objects.active = active if active is not None and mode_of == "OBJECT" else obj
    return obj


def bind(mesh: bpy.types.Object, armature: bpy.types.Object, names: list[str], weights: VertexWeights) -> None:
    """A vertex group per bone name holding its weights, and an Armature modifier on ``armature``; the mesh's
    own groups of those names are replaced."""
    for name in names:
        old = mesh.vertex_groups.get(name)
        if old is not None:
            mesh.vertex_groups.remove(old)
    groups = [mesh.vertex_groups.new(name=name) for name in names]
    for slot in range(4):
        for joint in np.unique(weights.joints[:, slot]):
            rows = np.flatnonzero((weights.joints[:, slot] == joint) & (weights.weights[:, slot] > 0))
            for row in rows.tolist():   # VertexGroup.add takes one weight per call: one call per weight value
                groups[joint].add([row], float(weights.weights[row, slot]), "ADD")
    modifier = next((m for m in mesh.modifiers if m.type == "ARMATURE" and m.object == armature), None)
    if modifier is None:
        modifier = mesh.modifiers.new(name=armature.name, type="ARMATURE")
        modifier.object = armature
    modifier.use_vertex_groups = True


def armature_of(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """``obj`` itself when it is an armature, else the armature its Armature modifier deforms it with."""
    if obj is None:
        return None
    if obj.type == "ARMATURE":
        return obj
    return next((m.object for m in getattr(obj, "modifiers", ()) if m.type == "ARMATURE" and m.object), None)


def pose_test(armature: bpy.types.Object) -> list[str]:
    """Swing each limb's first bone (a bone whose name says arm, leg, tail...) by ``SWING_DEGREES``, left and
    right limbs the opposite ways; the bones swung. Ctrl+Z (the operator's undo step) puts the rest pose back."""
    swung = []
    for bone in armature.pose.bones:
        name = bone.name.casefold()
        parent = bone.parent.name.casefold() if bone.parent else ""
        if not any(word in name for word in LIMB_WORDS) or any(word in parent for word in LIMB_WORDS):
            continue   # only the first bone of each limb: the rest follow it
        side = -1.0 if "left" in name or "_l" in name or ".l" in name else 1.0   # Mixamo's Left..., chains' _L
        bone.rotation_mode = "QUATERNION"
        bone.rotation_quaternion = Quaternion((1.0, 0.0, 0.0), math.radians(SWING_DEGREES) * side)
        swung.append(bone.name)
    return swung


__all__ = ["RIGGED_BY", "RIGGED_FROM", "RigProblem", "VertexWeights", "armature_of", "bind", "build_armature", "pose_test",
           "read_weights"]
