"""A rigged GLB: the input's own file with a skin added, so its materials, UVs and textures stay as they were.

What is added, after glTF 2.0 section 3.7.3 ("Skins") and as Blender's exporter writes a skin (STYLE.md):
one node per bone, children of their parents' nodes (roots at the scene's top), placed at the bone's head
(a translation from the parent's head; no rotation: Blender's importer points each bone at its child, and
the tail is kept in the node's ``extras`` as ``img23d_tail`` for ``gltf_joints`` to read back); one skin
per mesh node, its ``joints`` every bone node, its ``inverseBindMatrices`` a float MAT4 accessor holding
``inverse(joint's world matrix) @ mesh node's world matrix`` (the spec ignores a skinned mesh node's own
transform, so its placement is folded in here and the mesh stays where it was); and on every primitive
``JOINTS_0`` (unsigned short VEC4) and ``WEIGHTS_0`` (float VEC4, rows summing to 1: ``skin.Skin``).
New buffer views start on 4-byte boundaries, as the spec asks of vertex attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pygltflib

from .frames import z_up_to_y_up
from .gltf_io import GltfMesh
from .skeleton import Skeleton
from .skin import Skin

TAIL_EXTRA = "img23d_tail"
_ARRAY_BUFFER = 34962


def add_skin(gltf: Any, mesh: GltfMesh, skeleton: Skeleton, skin: Skin) -> Any:
    """``gltf`` (``gltf_io.load``'s) with ``skeleton`` and ``skin`` (one row per gathered vertex) added."""
    if skin.vertex_count != len(mesh.positions):
        raise ValueError(f"a skin of {skin.vertex_count} vertices for a mesh of {len(mesh.positions)}")
    if skeleton.count > 65535:
        raise ValueError("JOINTS_0 as unsigned short holds at most 65,535 joints")
    blob = bytearray(gltf.binary_blob() or b"")
    heads = z_up_to_y_up(skeleton.heads)
    tails = z_up_to_y_up(skeleton.tails)
    first_joint = len(gltf.nodes)
    for bone in range(skeleton.count):
        parent = skeleton.parents[bone]
        offset = heads[bone] - (heads[parent] if parent >= 0 else 0.0)
        gltf.nodes.append(pygltflib.Node(name=skeleton.names[bone], translation=[float(v) for v in offset],
                                         extras={TAIL_EXTRA: [float(v) for v in tails[bone]]}))
    for bone, parent in enumerate(skeleton.parents):
        if parent >= 0:
            node = gltf.nodes[first_joint + parent]
            node.children = [*(node.children or []), first_joint + bone]
    scene = gltf.scenes[gltf.scene or 0]
    scene.nodes = [*(scene.nodes or []), *(first_joint + root for root in skeleton.roots)]
    joints = list(range(first_joint, first_joint + skeleton.count))
    for node_index, matrix in mesh.node_matrices.items():
        binds = np.stack([_inverse_bind(head, matrix) for head in heads])
        # glTF stores matrices column-major: each matrix transposed, then flattened.
        matrices = _append(gltf, blob, np.ascontiguousarray(binds.transpose(0, 2, 1)).astype(np.float32),
                           "MAT4", pygltflib.FLOAT, target=None)
        gltf.skins.append(pygltflib.Skin(joints=joints, inverseBindMatrices=matrices,
                                         skeleton=first_joint + skeleton.roots[0] if len(skeleton.roots) == 1 else None))
        gltf.nodes[node_index].skin = len(gltf.skins) - 1
    for primitive in mesh.primitives:
        rows = slice(primitive.first_vertex, primitive.first_vertex + primitive.vertex_count)
        attributes = gltf.meshes[primitive.mesh].primitives[primitive.index].attributes
        attributes.JOINTS_0 = _append(gltf, blob, skin.joints[rows].astype(np.uint16), "VEC4",
                                      pygltflib.UNSIGNED_SHORT, target=_ARRAY_BUFFER)
        attributes.WEIGHTS_0 = _append(gltf, blob, skin.weights[rows].astype(np.float32), "VEC4",
                                       pygltflib.FLOAT, target=_ARRAY_BUFFER)
    gltf.set_binary_blob(bytes(blob))
    if gltf.buffers:
        gltf.buffers[0].byteLength = len(blob)
        gltf.buffers[0].uri = None
    else:
        gltf.buffers.append(pygltflib.Buffer(byteLength=len(blob)))
    return gltf


def write_glb(gltf: Any, path: Path) -> None:
    gltf.save_binary(str(path))


def _inverse_bind(head: np.ndarray, mesh_matrix: np.ndarray) -> np.ndarray:
    joint = np.eye(4)
    joint[:3, 3] = head
    return np.linalg.inv(joint) @ mesh_matrix


def _append(gltf: Any, blob: bytearray, array: np.ndarray, kind: str, component: int, target: int | None) -> int:
    """``array`` appended to the blob as a new buffer view and accessor; the accessor's index."""
    blob.extend(b"\0" * (-len(blob) % 4))
    data = array.astype(array.dtype.newbyteorder("<")).tobytes()
    gltf.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=len(blob), byteLength=len(data), target=target))
    blob.extend(data)
    count = len(array) if kind != "MAT4" else len(array)
    gltf.accessors.append(pygltflib.Accessor(bufferView=len(gltf.bufferViews) - 1, componentType=component,
                                             count=count, type=kind))
    return len(gltf.accessors) - 1
