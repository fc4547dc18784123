"""A rigged GLB: the input's own file with a skin added, so its materials, UVs and textures stay as they were.

What is added, after glTF 2.0 section 3.7.3 ("Skins") and as Blender's exporter writes a skin (STYLE.md):
one node per bone, children of their parents' nodes, each placed at the bone's head and turned so that its
own +Y runs from head to tail (``bone_axes``: Blender's importer, and any reader drawing a joint's +Y, shows
the bone along its limb; the roll is Blender's roll 0), its translation in its parent's turned frame; the
tail is also kept in the node's ``extras`` as ``img23d_tail`` (glTF's frame), for ``gltf_joints`` to read
the length back exactly. The roots stand at the scene's top, or under one node ``Armature`` carrying the mesh
node's placement where the mesh node has one (below). One skin per mesh node, its ``joints`` every bone
node, its ``inverseBindMatrices`` a float MAT4 accessor holding ``inverse(joint's world matrix) @ mesh node's
world matrix``, from the matrices as written (the spec ignores a skinned mesh node's own transform, so its
placement is folded in here and the mesh stays where it was: skinned in the bind pose, every vertex is at
its rest position); and on every primitive ``JOINTS_0`` (unsigned short VEC4) and ``WEIGHTS_0`` (float
VEC4, rows summing to 1: ``skin.Skin``). New buffer views start on 4-byte boundaries, as the spec asks.

Why the ``Armature`` node: Blender's importer takes a bone's bind pose from the inverse bind matrices, taking
those of a root's parent as the identity; with the mesh node's placement folded into them, a skeleton at the
scene's top arrived moved by the inverse of that placement. Under a node carrying the placement, a root's
inverse bind matrix is its own inverse local matrix and every reader agrees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pygltflib

from .bone_axes import joint_rotations, quaternion
from ..gltf.frame import to_gltf
from ..gltf.scene import GltfMesh, local_matrix
from .skeleton import Skeleton
from .skin import Skin

TAIL_EXTRA = "img23d_tail"
_ARRAY_BUFFER = 34962


def add_skin(gltf: Any, mesh: GltfMesh, skeleton: Skeleton, skin: Skin) -> Any:
    """``gltf`` (``gltf.scene.load``'s) with ``skeleton`` and ``skin`` (one row per gathered vertex) added."""
    if skin.vertex_count != len(mesh.positions):
        raise ValueError(f"a skin of {skin.vertex_count} vertices for a mesh of {len(mesh.positions)}")
    if skeleton.count > 65535:
        raise ValueError("JOINTS_0 as unsigned short holds at most 65,535 joints")
    blob = bytearray(gltf.binary_blob() or b"")
    first_joint = len(gltf.nodes)
    placement = _placement(mesh)
    joint_world = _add_joints(gltf, skeleton, placement)
    joints = list(range(first_joint, first_joint + skeleton.count))
    for node_index, matrix in mesh.node_matrices.items():
        binds = np.linalg.inv(joint_world) @ matrix
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


def _add_joints(gltf: Any, skeleton: Skeleton, placement: np.ndarray) -> np.ndarray:
    """The bone nodes appended (after a node carrying ``placement`` where it is not the identity); (J, 4, 4)
    each joint's world matrix as the nodes written give it, in glTF's frame."""
    heads, tails = to_gltf(skeleton.heads), to_gltf(skeleton.tails)
    wanted = joint_rotations(skeleton.heads, skeleton.tails)
    first_joint = len(gltf.nodes)
    world = np.zeros((skeleton.count, 4, 4))
    nodes: list[Any] = [None] * skeleton.count
    for bone in skeleton.order():
        parent = skeleton.parents[bone]
        above = world[parent] if parent >= 0 else placement
        # The local turn and offset that put this node at its head with +Y along the bone, as seen from the
        # parent's frame as written (its quaternion rounded, not the matrix wanted): the head lands exactly.
        inverse = np.linalg.inv(above)
        rotation = inverse[:3, :3] @ wanted[bone]
        rotation /= np.linalg.norm(rotation, axis=0)   # a placement's uniform scale is the parent's, not ours
        offset = inverse[:3, :3] @ heads[bone] + inverse[:3, 3]
        node = pygltflib.Node(name=skeleton.names[bone], translation=[float(v) for v in offset],
                              rotation=quaternion(rotation), extras={TAIL_EXTRA: [float(v) for v in tails[bone]]})
        world[bone], nodes[bone] = above @ local_matrix(node), node
    gltf.nodes.extend(nodes)
    for bone, parent in enumerate(skeleton.parents):
        if parent >= 0:
            node = gltf.nodes[first_joint + parent]
            node.children = [*(node.children or []), first_joint + bone]
    roots = [first_joint + root for root in skeleton.roots]
    if not gltf.scenes:
        # A file may name no scene (its parentless nodes then stand alone, as ``world_matrices`` reads them): they
        # become its one scene, which the joints join (indexing the missing scene was a traceback).
        children = {child for node in gltf.nodes[:first_joint] for child in node.children or []}
        gltf.scenes.append(pygltflib.Scene(nodes=[n for n in range(first_joint) if n not in children]))
        gltf.scene = 0
    scene = gltf.scenes[gltf.scene or 0]
    if np.allclose(placement, np.eye(4), atol=1e-12):
        scene.nodes = [*(scene.nodes or []), *roots]
    else:
        trs = _rigid_trs(placement)
        gltf.nodes.append(pygltflib.Node(name="Armature", children=roots, **trs))
        scene.nodes = [*(scene.nodes or []), len(gltf.nodes) - 1]
    return world


def _placement(mesh: GltfMesh) -> np.ndarray:
    """Where the skeleton's roots hang: the first mesh node's world matrix when it is a turn, a move and one
    scale (a node's TRS can say it), else the scene's origin (the inverse bind matrices carry the rest)."""
    matrix = next(iter(mesh.node_matrices.values()))
    linear = matrix[:3, :3]
    scale = np.cbrt(np.linalg.det(linear)) if np.linalg.det(linear) > 0 else 0.0
    if scale <= 0 or not np.allclose(linear.T @ linear, scale * scale * np.eye(3), atol=1e-6 * scale * scale) \
            or not np.allclose(matrix[3], [0, 0, 0, 1]):
        return np.eye(4)
    return local_matrix(pygltflib.Node(**_rigid_trs(matrix)))


def _rigid_trs(matrix: np.ndarray) -> dict[str, list[float]]:
    scale = float(np.cbrt(np.linalg.det(matrix[:3, :3])))
    return {"translation": [float(v) for v in matrix[:3, 3]], "rotation": quaternion(matrix[:3, :3] / scale),
            "scale": [scale] * 3}


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
