"""An artist's skeleton read from a GLB/glTF skin (``rig --skeleton FILE``).

The joints are the nodes of the file's first skin (``skins[0].joints``, glTF 2.0 section 3.7.3); a
joint's head is its node's world position, its parent the nearest ancestor node that is a joint too (a
joint without one is a root: a forest is kept). Names are the nodes' names. In img23d's frame.

glTF stores no tails. A bone's direction is read as the file stores it: its node's world +Y, what
Blender's importer shows by default (``bone_axes``) and what Blender's exporter writes; its length as that
importer picks it (``bone_axes.blender_lengths``: the distance to the nearest child joint), so a skeleton
reads as it looks in Blender, a hips bone whose children are legs and a spine included. img23d's own files
keep each tail in the node's ``extras`` (``gltf_skin.TAIL_EXTRA``): a kept tail wins where it lies along
its node's +Y (an edited bone's stale one does not). A file whose joints all point one way (translations
only, as img23d's rigs before issue 73 and some tools write them: every bone straight up in Blender) says
no direction at all; there the tails are rebuilt from the children (``skeleton.tails_from_children``:
a bone points at its children's heads), the kept tails winning where present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .bone_axes import blender_lengths
from ..gltf.frame import from_gltf
from ..gltf.scene import GltfUnreadable, load, world_matrices
from .gltf_skin import TAIL_EXTRA
from .skeleton import BadSkeleton, Skeleton, tails_from_children


def read_skeleton(path: Path) -> Skeleton:
    """The skeleton of ``path``'s first skin; ``BadSkeleton`` with one sentence when it has none."""
    try:
        gltf = load(path)
    except GltfUnreadable as exc:
        raise BadSkeleton(str(exc)) from exc
    if not gltf.skins or not gltf.skins[0].joints:
        raise BadSkeleton(f"{path.name} has no skin with joints, so it holds no skeleton to bind to")
    joints = list(gltf.skins[0].joints)   # at most MAX_BONES, counted from the file's JSON (``gltf.bounds``)
    position = {node: n for n, node in enumerate(joints)}
    parent_of = {child: node for node, value in enumerate(gltf.nodes) for child in (value.children or [])}
    matrices = world_matrices(gltf)
    parents = []
    for node in joints:
        up = parent_of.get(node)
        while up is not None and up not in position:
            up = parent_of.get(up)
        parents.append(-1 if up is None else position[up])
    missing = [node for node in joints if node not in matrices]
    if missing:
        raise BadSkeleton(f"{path.name}'s skin names {len(missing)} joints that no scene holds")
    names = [gltf.nodes[node].name or f"joint_{n:02d}" for n, node in enumerate(joints)]
    if len(set(names)) != len(names):  # two nodes of one name: Blender would rename one anyway
        names = [f"{name}_{n:02d}" if names.count(name) > 1 else name for n, name in enumerate(names)]
    heads = from_gltf(np.array([matrices[node][:3, 3] for node in joints]))
    axes = from_gltf(np.array([matrices[node][:3, 1] for node in joints]))
    kept = [_kept_tail(gltf.nodes[node].extras) for node in joints]
    bare = Skeleton(tuple(names), heads, heads, tuple(parents))   # checked, and ordered, before any tail
    offsets = heads - from_gltf(np.array([matrices[parent_of[node]][:3, 3] if node in parent_of else np.zeros(3)
                                             for node in joints]))
    return bare.moved(heads, _tails(heads, axes, kept, bare, offsets))


def _kept_tail(extras: object) -> np.ndarray | None:
    """img23d's own tail (glTF's frame) in img23d's frame, where the node keeps three finite numbers."""
    value = extras.get(TAIL_EXTRA) if isinstance(extras, dict) else None
    try:
        tail = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return from_gltf(tail) if tail.shape == (3,) and np.isfinite(tail).all() else None


def _tails(heads: np.ndarray, axes: np.ndarray, kept: list[np.ndarray | None], bare: Skeleton,
           root_offsets: np.ndarray) -> np.ndarray:
    """Each bone's tail: along its node's +Y where the file's directions say something, else from its
    children; img23d's kept tail where it agrees (see the module's docstring)."""
    lengths = np.linalg.norm(axes, axis=1)
    units = axes / np.where(lengths > 0, lengths, 1.0)[:, None]
    turned = bare.count == 1 or bool((units @ units[0] < 1 - 1e-9).any())   # not all one way
    fallback = tails_from_children(heads, bare.parents)
    if turned:
        along = heads + blender_lengths(heads, bare.parents, bare.order(), root_offsets)[:, None] * units
        fallback = np.where((lengths > 1e-12)[:, None], along, fallback)
    tails = fallback.copy()
    for joint, tail in enumerate(kept):
        bone = None if tail is None else tail - heads[joint]
        if bone is None or np.linalg.norm(bone) == 0:
            continue
        if not turned or bone @ units[joint] >= np.cos(np.radians(1.0)) * np.linalg.norm(bone):
            tails[joint] = tail
    return tails
