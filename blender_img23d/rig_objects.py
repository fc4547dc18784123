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
import re
from typing import Any

import bpy
import numpy as np
from img23d_protocol import rig_weights
from img23d_protocol.rig_weights import VertexWeights
from mathutils import Matrix, Quaternion, Vector

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


def check_can_rig(mesh: bpy.types.Object, doing: str) -> None:
    """``RigProblem`` with one sentence when nothing can be put on ``mesh`` now, checked before anything is made
    (when a job starts, and again when its rig comes back): a mesh linked from a library (the groups and the
    modifier went onto library data and were gone once the file was saved and opened), one in Edit Mode, or
    one its view layer does not hold (an excluded collection: an armature without bones was left there)."""
    if mesh.library is not None or mesh.data.library is not None:
        raise RigProblem(f"'{mesh.name}' is linked from a library: make it local (Object > Relations > Make "
                         f"Local) to {doing}")
    if mesh.mode == "EDIT":
        raise RigProblem(f"'{mesh.name}' is in Edit Mode: go back to Object Mode to {doing}")
    bpy.context.view_layer.update()   # its objects follow a collection's exclusion only once it has synced
    if bpy.context.view_layer.objects.get(mesh.name) is None:
        raise RigProblem(f"'{mesh.name}' is not in this view layer (its collection is excluded): include it to "
                         f"{doing}")


def build_armature(mesh: bpy.types.Object, bones: Any, name: str, source: str = "") -> bpy.types.Object:
    """An Armature object standing where ``mesh`` stands, under its parent, with ``bones`` (heads and tails in the
    mesh's space); nothing left behind when it cannot be built. Its scale is even (a mesh's scale of (1, 1, 3)
    carried onto the armature squashed every limb it turned); the mesh's own scale is in the bones."""
    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    try:
        for collection in mesh.users_collection or [bpy.context.scene.collection]:
            collection.objects.link(obj)
        # Under the mesh's parent, as the mesh is: a part under its Empty moved away from a rig left where it was.
        obj.parent, obj.parent_type = mesh.parent, mesh.parent_type
        if mesh.parent_type == "BONE":
            obj.parent_bone = mesh.parent_bone
        location, rotation, scale = mesh.matrix_world.decompose()
        even = abs(scale.x * scale.y * scale.z) ** (1.0 / 3.0) or 1.0
        obj.matrix_world = Matrix.LocRotScale(location, rotation, Vector((even, even, even)))
        to_armature = obj.matrix_world.inverted() @ mesh.matrix_world
        obj[RIGGED_FROM], obj[RIGGED_BY] = mesh.name, source
        _edit_bones(obj, [(bone.name, to_armature @ Vector(bone.head), to_armature @ Vector(bone.tail), bone.parent)
                          for bone in bones], mesh.mode)
    except Exception:   # whatever stopped it, no half-built armature stays (then the error goes on)
        bpy.data.objects.remove(obj)
        bpy.data.armatures.remove(armature)
        raise
    return obj


def _edit_bones(obj: bpy.types.Object, bones: list[tuple[str, Vector, Vector, int]], mode_of: str) -> None:
    armature, active = obj.data, bpy.context.view_layer.objects.active
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")   # edit bones exist only in Edit Mode (no window needed)
    try:
        made = []
        for name, head, tail, _ in bones:
            edit = armature.edit_bones.new(name)
            edit.head, edit.tail = head, tail
            if (edit.tail - edit.head).length < 1e-6:   # Blender drops a zero-length bone
                edit.tail = edit.head + Vector((0.0, 0.0, 1e-3))
            made.append(edit)
        for edit, (_, _, _, parent) in zip(made, bones):
            if parent >= 0:
                edit.parent = made[parent]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        bpy.context.view_layer.objects.active = active if active is not None and mode_of == "OBJECT" else obj


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
        # A rig img23d made for this mesh before deforms it no more: its modifier takes this armature (rigged again,
        # the mesh had two rigs, the old one still moving it, and Pose Test swung the old one). An artist's own
        # armature's modifier stays, as Blender's parenting keeps it.
        modifier = next((m for m in mesh.modifiers if m.type == "ARMATURE" and m.object is not None
                         and m.object.get(RIGGED_FROM) == mesh.name), None)
        if modifier is not None:
            if modifier.name == modifier.object.name:   # the name img23d gave it, not one the artist chose
                modifier.name = armature.name
            modifier.object = armature
    if modifier is None:   # last in the stack, where Blender's own parenting (Ctrl+P) puts it
        modifier = mesh.modifiers.new(name=armature.name, type="ARMATURE")
        modifier.object = armature
    modifier.use_vertex_groups = True


def name_words(name: str) -> set[str]:
    """A bone name's words, lower case, split at anything not a letter or digit and where a capital follows a small
    letter ("LeftUpLeg": left, up, leg; "upper_leg_R": upper, leg, r): words, not letters, make a limb or a side
    ("Armature" swung the whole figure as an arm, "upper_leg_R" was the left leg)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return {word.casefold() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word}


def _is_limb(words: set[str]) -> bool:
    # A word that is a limb's or ends in one: "upperarm", "forearm", "lowerleg" too; "armature", "handle" not.
    return any(word.endswith(limb) for word in words for limb in LIMB_WORDS)


def follow_mesh(mesh: bpy.types.Object, before: Matrix) -> None:
    """The armature img23d made for ``mesh`` moved as ``mesh`` just moved from ``before`` (Re-layout): it was
    left where it was, and posing the rig then threw the mesh across the scene."""
    armature = armature_of(mesh)
    if armature is not None and armature is not mesh and armature.get(RIGGED_FROM) == mesh.name:
        armature.matrix_world = mesh.matrix_world @ before.inverted() @ armature.matrix_world


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
        words = name_words(bone.name)
        if not _is_limb(words) or (bone.parent and _is_limb(name_words(bone.parent.name))):
            continue   # only the first bone of each limb: the rest follow it
        side = -1.0 if words & {"left", "l"} else 1.0   # Mixamo's LeftArm, chains' arm_L_01, Biped's "L UpperArm"
        bone.rotation_mode = "QUATERNION"
        bone.rotation_quaternion = Quaternion((1.0, 0.0, 0.0), math.radians(SWING_DEGREES) * side)
        swung.append(bone.name)
    return swung


__all__ = ["RIGGED_BY", "RIGGED_FROM", "RigProblem", "VertexWeights", "armature_of", "bind",
           "build_armature", "check_can_rig", "name_words", "pose_test", "read_weights"]
