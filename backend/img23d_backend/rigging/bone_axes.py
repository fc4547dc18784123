"""A bone's axes as glTF's joint nodes carry them, and a bone's length as Blender's importer picks it.

glTF stores no bones, only nodes (section 3.7.3); what a reader shows as a bone is its node's frame. Blender's
importer (io_scene_gltf2, ``imp/vnode.py``, the default bone heuristic 'BLENDER', the same in Blender 4.2, 5.0
and 5.2) points each bone along its node's own +Y and gives it the length ``blender_lengths`` says; its
exporter writes each joint's rotation as the bone's own axes (``exp/tree.py``: the bone's ``matrix_local``
turned by the Z-up to Y-up change of axes). So a node whose +Y runs from head to tail arrives as that bone in
Blender and in any reader that draws a joint's +Y.

The turn about +Y (the roll) is Blender's roll 0 (its ``vec_roll_to_mat3``): the smallest rotation taking +Y
to the bone, in img23d's frame (Blender's axes), and a half turn about Z for a bone pointing -Y (within
0.015 degrees), where no rotation is smallest. It is the roll Blender gives a bone made from a head and a
tail (as the add-on's own armature is), so a file's armature and the add-on's have the same bones; Blender's
exporter writes it back as it was read.
"""

from __future__ import annotations

import numpy as np

from ..gltf.frame import BLENDER_TO_GLTF

# Blender's importer ignores a child closer than this when measuring a bone (``MIN_BONE_LENGTH``).
MIN_BONE_LENGTH = 0.004
# Blender takes a bone as pointing -Y when x^2 + z^2 of its unit direction is below this (its
# ``vec_roll_to_mat3_normalized``: 2.5e-4 squared); the same here, so a bone that close gets Blender's roll.
TOWARDS_MINUS_Y = 2.5e-4 ** 2


def roll_zero_frame(direction: np.ndarray) -> np.ndarray:
    """(3, 3): the bone's axes as columns (X, Y along ``direction``, Z), in img23d's frame, at Blender's roll 0."""
    x, y, z = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
    across = x * x + z * z
    if across <= TOWARDS_MINUS_Y and y < 0:
        return np.diag([-1.0, -1.0, 1.0])
    # 1 + y, computed without cancellation where the bone points nearly -Y: (x^2 + z^2) / (1 - y) is equal.
    theta = 1.0 + y if y >= 0 else across / (1.0 - y)
    return np.array([[1.0 - x * x / theta, x, -x * z / theta],
                     [-x, y, -z],
                     [-x * z / theta, z, 1.0 - z * z / theta]])


def joint_rotations(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """(J, 3, 3): each joint node's world rotation in glTF's frame (+Y up), its +Y from head to tail
    (heads and tails in img23d's frame). Blender's exporter writes the same: the bone's axes, turned."""
    return np.stack([BLENDER_TO_GLTF @ roll_zero_frame(tail - head) for head, tail in zip(heads, tails)])


def quaternion(rotation: np.ndarray) -> list[float]:
    """A proper rotation matrix as glTF's unit quaternion ``[x, y, z, w]`` (w >= 0)."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = np.trace(m)
    # The largest of 4w^2, 4x^2, 4y^2, 4z^2 is divided by: no division by a small number (Shepperd 1978).
    largest = int(np.argmax([trace, m[0, 0], m[1, 1], m[2, 2]]))
    if largest == 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4]
    elif largest == 1:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif largest == 2:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s]
    unit = np.asarray(q) / np.linalg.norm(q)
    return [float(v) for v in (unit if unit[3] >= 0 else -unit)]


def blender_lengths(heads: np.ndarray, parents: tuple[int, ...] | list[int], order: list[int],
                    root_offsets: np.ndarray) -> np.ndarray:
    """Each bone's length as Blender's importer picks it (``pick_bone_length``): the distance to its nearest
    child joint (children closer than ``MIN_BONE_LENGTH`` ignored), else its parent's length, else (a root
    without children) its distance from its parent node's origin (``root_offsets``), else 1. ``order`` puts
    every parent before its children. Distances are in the file's world units (Blender's are its node's,
    the same unless a joint node is scaled)."""
    heads = np.asarray(heads, dtype=np.float64)
    lengths = np.ones(len(heads))
    children: dict[int, list[int]] = {}
    for joint, parent in enumerate(parents):
        children.setdefault(parent, []).append(joint)
    for joint in order:
        near = [d for d in (np.linalg.norm(heads[kid] - heads[joint]) for kid in children.get(joint, []))
                if d > MIN_BONE_LENGTH]
        if near:
            lengths[joint] = min(near)
        elif parents[joint] >= 0:
            lengths[joint] = lengths[parents[joint]]
        elif np.linalg.norm(root_offsets[joint]) > MIN_BONE_LENGTH:
            lengths[joint] = np.linalg.norm(root_offsets[joint])
    return lengths
