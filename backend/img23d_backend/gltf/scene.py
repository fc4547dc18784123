"""A glTF's node graph checked and its meshes gathered with pygltflib (or a mesh's arrays made one), for the
rigging room's files.

The file is read by img23d's one bounded glTF reader (``gltf.data``): its buffers (the GLB's
binary chunk, ``data:`` URIs, a ``.bin`` beside a text glTF: only in the source's own folder) gathered
into one binary blob, so a GLB and a glTF read alike, and every accessor decoded only from inside its
buffer view. Before pygltflib builds an object of it or any array is decoded, its JSON is counted and
checked (``bounds.check_document``: its nodes, mesh nodes, objects and values, the node graph a forest
of trees at most ``bounds.MAX_NODE_DEPTH`` deep, each skin's joints, the triangles from the accessors'
counts): a 10-million-face file is refused from its JSON, before its buffers are read, and a file of
420,000 nodes before pygltflib spends minutes building them.
Positions come back in img23d's frame (``gltf.frame``: glTF is +Y up), with every node's transform applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pygltflib
from img23d_protocol.limits import MAX_TRIANGLES

from . import data as gltf_data
from .bounds import check_document
from .data import GltfUnreadable, item
from .frame import from_gltf, to_gltf

TRIANGLES, TRIANGLE_STRIP, TRIANGLE_FAN = 4, 5, 6
SURFACES = (TRIANGLES, TRIANGLE_STRIP, TRIANGLE_FAN)   # the primitive modes that have faces
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass(frozen=True)
class Primitive:
    """One primitive of a mesh node: where its vertices sit in the file and in the gathered mesh."""

    node: int
    mesh: int
    index: int            # the primitive's index in its mesh
    first_vertex: int     # its vertices' first row in the gathered positions
    vertex_count: int


@dataclass(frozen=True)
class GltfMesh:
    """Every mesh node's vertices gathered in img23d's frame, their triangles, and where each came from."""

    positions: np.ndarray
    triangles: np.ndarray
    primitives: list[Primitive]
    node_matrices: dict[int, np.ndarray]   # each mesh node's world matrix in glTF's frame


def load(path: Path, folder: Path | None = None) -> Any:
    """The file as a ``pygltflib.GLTF2`` with one binary blob, its JSON checked first
    (``bounds.check_document``); relative URIs resolved from ``folder`` (default: the file's own), only there."""
    return read(path, folder).gltf


def read(path: Path, folder: Path | None = None, max_faces: int = MAX_TRIANGLES,
         name: str | None = None) -> gltf_data.GltfRead:
    """``load``'s glTF and every file its bytes came from (``gltf.data.GltfRead``); its JSON
    (``bounds.check_document``) checked before any of its buffers is read or an object built of it;
    ``name``: the file's name in what is said (``gltf.data.read_gltf``)."""
    return gltf_data.read_gltf(path, folder, lambda document, said: check_document(document, said, max_faces), name)


def check_triangles(gltf: Any, max_faces: int = MAX_TRIANGLES) -> None:
    said = triangle_count(gltf)
    if said > max_faces:
        raise GltfUnreadable(f"the file has {said:,} triangles, more than the {max_faces:,} img23d reads: "
                             "decimate it first")


def accessor(gltf: Any, index: int, max_count: int | None = None) -> np.ndarray:
    """The accessor's elements as a (count, width) array, bounded (``gltf.data.accessor``)."""
    return gltf_data.accessor(gltf, index, max_count)


def triangle_count(gltf: Any) -> int:
    """The triangles every mesh node's primitives would give, from the accessors' counts alone."""
    total = 0
    for mesh_index in {node.mesh for node in gltf.nodes if node.mesh is not None}:
        for primitive in item(gltf.meshes, mesh_index, "mesh").primitives or []:
            kind = primitive.mode if primitive.mode is not None else TRIANGLES
            if kind not in SURFACES:
                continue
            corners = primitive.indices if primitive.indices is not None else primitive.attributes.POSITION
            count = item(gltf.accessors, corners, "accessor").count
            if isinstance(count, int):
                total += count // 3 if kind == TRIANGLES else max(count - 2, 0)
    return total


def local_matrix(node: Any) -> np.ndarray:
    """The node's own transform (glTF's TRS or matrix); ``GltfUnreadable`` for one of the wrong size."""
    try:
        if node.matrix is not None:
            return np.asarray(node.matrix, dtype=np.float64).reshape(4, 4).T  # glTF stores column-major
        x, y, z, w = (float(v) for v in node.rotation or (0.0, 0.0, 0.0, 1.0))
        scale = np.asarray(node.scale or (1.0, 1.0, 1.0), dtype=np.float64).reshape(3)
        translation = np.asarray(node.translation or (0.0, 0.0, 0.0), dtype=np.float64).reshape(3)
    except (TypeError, ValueError):
        raise GltfUnreadable(f"node {node.name or ''!r} has a transform that is not glTF's numbers (a 4 x 4 "
                             "matrix, or a translation, rotation and scale)") from None
    rotation = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                         [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                         [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * scale[None, :]
    matrix[:3, 3] = translation
    return matrix


def world_matrices(gltf: Any) -> dict[int, np.ndarray]:
    """Every node's world matrix (glTF's frame) reached from the scene's roots (or from every parentless
    node when the file names no scene)."""
    children = {c for node in gltf.nodes for c in (node.children or [])}
    scene = gltf.scenes[gltf.scene or 0] if gltf.scenes else None
    roots = list(scene.nodes) if scene is not None and scene.nodes else \
        [n for n in range(len(gltf.nodes)) if n not in children]
    found: dict[int, np.ndarray] = {}
    stack = [(root, np.eye(4)) for root in roots]
    while stack:
        index, parent = stack.pop()
        if index in found:
            continue  # a node reached twice (a damaged hierarchy): its first placement holds
        found[index] = parent @ local_matrix(gltf.nodes[index])
        stack.extend((child, found[index]) for child in gltf.nodes[index].children or [])
    return found


def gather_mesh(gltf: Any, max_faces: int = MAX_TRIANGLES) -> GltfMesh:
    """Every mesh node's primitives as one mesh in img23d's frame (a mesh used by several nodes: its first);
    a file of more than ``max_faces`` triangles refused before any array is decoded."""
    check_triangles(gltf, max_faces)
    matrices = world_matrices(gltf)
    positions, triangles, primitives, nodes = [], [], [], {}
    seen_meshes: set[int] = set()
    count = 0
    for node_index in sorted(matrices):
        mesh_index = gltf.nodes[node_index].mesh
        if mesh_index is None or mesh_index in seen_meshes:
            continue
        seen_meshes.add(mesh_index)
        nodes[node_index] = matrices[node_index]
        for number, primitive in enumerate(item(gltf.meshes, mesh_index, "mesh").primitives or []):
            if primitive.attributes is None or primitive.attributes.POSITION is None:
                raise GltfUnreadable(f"mesh {mesh_index}'s primitive {number} has no POSITION")
            local = accessor(gltf, primitive.attributes.POSITION, 3 * max_faces).astype(np.float64)
            if local.shape[1] != 3:
                raise GltfUnreadable(f"mesh {mesh_index}'s POSITION is not made of 3D vectors")
            world = local @ matrices[node_index][:3, :3].T + matrices[node_index][:3, 3]
            positions.append(from_gltf(world))
            kind = primitive.mode if primitive.mode is not None else TRIANGLES
            if kind in SURFACES:
                corners = (accessor(gltf, primitive.indices, 3 * max_faces).reshape(-1)
                           if primitive.indices is not None else np.arange(len(local)))
                if (kind == TRIANGLES and len(corners) % 3) or \
                        (len(corners) and (corners.min() < 0 or corners.max() >= len(local))):
                    raise GltfUnreadable(f"mesh {mesh_index}'s triangles name vertices it does not have (or are "
                                         "not whole triangles)")
                faces = _triangles_of(corners.astype(np.int64), kind)
                if np.linalg.det(matrices[node_index][:3, :3]) < 0:
                    # A mirrored node (a negative scale: a right leg made from the left) reverses the winding
                    # (glTF 2.0, 3.7.4): kept as written, that part faced inwards, and the rig's side test
                    # no longer trusted the legs apart.
                    faces = faces[:, ::-1]
                triangles.append(faces + count)
            primitives.append(Primitive(node_index, mesh_index, number, count, len(local)))
            count += len(local)
    if not primitives:
        raise GltfUnreadable("the file has no mesh")
    return GltfMesh(np.concatenate(positions), np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64),
                    primitives, nodes)


def _triangles_of(corners: np.ndarray, kind: int) -> np.ndarray:
    """A primitive's corners as (F, 3) triangles: a list's threes; a strip's each three in a row, every second
    one turned to keep the winding; a fan's first with each two in a row (glTF 2.0 section 3.7.2.1). A strip or
    fan was read as no faces at all."""
    if kind == TRIANGLES:
        return corners.reshape(-1, 3)
    n = max(len(corners) - 2, 0)
    first = np.arange(n)
    if kind == TRIANGLE_FAN:
        return np.stack([np.full(n, corners[0]), corners[first + 1], corners[first + 2]], axis=1)
    odd = first % 2 == 1
    return np.stack([corners[first + odd], corners[first + 1 - odd], corners[first + 2]], axis=1)


def mesh_scene(positions: np.ndarray, triangles: np.ndarray) -> tuple[Any, GltfMesh]:
    """A mesh in img23d's frame (the add-on's mesh file) as a glTF of one node, its positions turned into
    glTF's frame once and stored as 32-bit floats, and as ``gather_mesh`` would give it back, without
    turning them back: the rig of the add-on's mesh turns it one way only."""
    points = np.ascontiguousarray(to_gltf(positions), dtype="<f4")
    corners = np.ascontiguousarray(triangles, dtype="<u4").reshape(-1)
    blob = points.tobytes() + corners.tobytes()
    primitive = pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=0), indices=1, mode=TRIANGLES)
    gltf = pygltflib.GLTF2(
        scene=0, scenes=[pygltflib.Scene(nodes=[0])], nodes=[pygltflib.Node(mesh=0)],
        meshes=[pygltflib.Mesh(primitives=[primitive])],
        accessors=[pygltflib.Accessor(bufferView=0, componentType=pygltflib.FLOAT, count=len(points), type="VEC3",
                                      min=points.min(axis=0).tolist(), max=points.max(axis=0).tolist()),
                   pygltflib.Accessor(bufferView=1, componentType=pygltflib.UNSIGNED_INT, count=len(corners),
                                      type="SCALAR")],
        bufferViews=[pygltflib.BufferView(buffer=0, byteOffset=0, byteLength=points.nbytes, target=_ARRAY_BUFFER),
                     pygltflib.BufferView(buffer=0, byteOffset=points.nbytes, byteLength=corners.nbytes,
                                          target=_ELEMENT_ARRAY_BUFFER)],
        buffers=[pygltflib.Buffer(byteLength=len(blob))])
    gltf.set_binary_blob(blob)
    gathered = GltfMesh(np.asarray(positions, np.float64), np.asarray(triangles, np.int64).reshape(-1, 3),
                        [Primitive(0, 0, 0, 0, len(points))], {0: np.eye(4)})
    return gltf, gathered
