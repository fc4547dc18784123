"""An artist's skeleton read from a GLB/glTF skin (``rig --skeleton FILE``).

The joints are the nodes of the file's first skin (``skins[0].joints``, glTF 2.0 section 3.7.3); a
joint's head is its node's world position, its parent the nearest ancestor node that is a joint too (a
joint without one is a root: a forest is kept). glTF stores no tails: Blender's exporter writes each
bone as a node at its head and its importer points a bone at its child (or the children's mean), so the
tails are rebuilt that way (``skeleton.tails_from_children``), unless the file is img23d's own and keeps
them in each node's ``extras`` (``gltf_skin.TAIL_EXTRA``). Names are the nodes' names. In img23d's frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .frames import y_up_to_z_up
from .gltf_io import GltfUnreadable, load, world_matrices
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
    joints = list(gltf.skins[0].joints)
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
    heads_y_up = np.array([matrices[node][:3, 3] for node in joints])
    kept = [gltf.nodes[node].extras.get(TAIL_EXTRA) if isinstance(gltf.nodes[node].extras, dict) else None
            for node in joints]
    tails_y_up = (np.array(kept, dtype=np.float64) if all(tail is not None for tail in kept)
                  else None)
    heads = y_up_to_z_up(heads_y_up)
    tails = y_up_to_z_up(tails_y_up) if tails_y_up is not None else tails_from_children(heads, parents)
    names = [gltf.nodes[node].name or f"joint_{n:02d}" for n, node in enumerate(joints)]
    if len(set(names)) != len(names):  # two nodes of one name: Blender would rename one anyway
        names = [f"{name}_{n:02d}" if names.count(name) > 1 else name for n, name in enumerate(names)]
    return Skeleton(tuple(names), heads, tails, tuple(parents))
