"""Reading a GLB/glTF's node transforms and mesh arrays with pygltflib, for the rigging room's files.

pygltflib parses the JSON and holds the binary buffer, but decodes no accessor: the few the rig needs
(POSITION, indices, a skin's inverse bind matrices are not read back) are decoded here, after glTF 2.0
section 3.6 ("Binary data storage": an accessor's bytes start at its bufferView's offset plus its own,
elements ``byteStride`` apart when the view sets one, else packed). A text glTF's buffers (a ``.bin``
beside it or data URIs) are gathered into one binary blob first, so a GLB and a glTF read alike.
Positions come back in img23d's frame (``frames``: glTF is +Y up), with every node's transform applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pygltflib

from .frames import y_up_to_z_up

_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
TRIANGLES = 4


class GltfUnreadable(ValueError):
    """A glTF file the rig cannot read: the sentence says why."""


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


def load(path: Path) -> Any:
    """The file as a ``pygltflib.GLTF2`` with one binary blob."""
    try:
        gltf = pygltflib.GLTF2().load(str(path))
        if gltf is None:
            raise GltfUnreadable(f"{path.name} is not a glTF file")
        if path.suffix.lower() == ".gltf":
            gltf.convert_buffers(pygltflib.BufferFormat.BINARYBLOB)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GltfUnreadable(f"{path.name} cannot be read as glTF ({type(exc).__name__}: {exc})") from exc
    return gltf


def accessor(gltf: Any, index: int) -> np.ndarray:
    """The accessor's elements as an (count, width) array (sparse accessors are refused)."""
    acc = gltf.accessors[index]
    if acc.sparse is not None:
        raise GltfUnreadable("the file stores a mesh in a sparse accessor, which img23d's rig does not read")
    dtype = np.dtype(_COMPONENTS[acc.componentType]).newbyteorder("<")
    width = _WIDTH[acc.type]
    if acc.bufferView is None:
        return np.zeros((acc.count, width), dtype=dtype)
    view = gltf.bufferViews[acc.bufferView]
    blob = gltf.binary_blob() or b""
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    stride = view.byteStride or dtype.itemsize * width
    rows = np.lib.stride_tricks.as_strided(
        np.frombuffer(blob, dtype=np.uint8, count=len(blob) - start, offset=start),
        shape=(acc.count, dtype.itemsize * width), strides=(stride, 1))
    return np.ascontiguousarray(rows).view(dtype).reshape(acc.count, width)


def local_matrix(node: Any) -> np.ndarray:
    if node.matrix is not None:
        return np.asarray(node.matrix, dtype=np.float64).reshape(4, 4).T  # glTF stores column-major
    x, y, z, w = node.rotation or (0.0, 0.0, 0.0, 1.0)
    rotation = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                         [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                         [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * np.asarray(node.scale or (1.0, 1.0, 1.0))[None, :]
    matrix[:3, 3] = node.translation or (0.0, 0.0, 0.0)
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


def gather_mesh(gltf: Any) -> GltfMesh:
    """Every mesh node's primitives as one mesh in img23d's frame (a mesh used by several nodes: its first)."""
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
        for number, primitive in enumerate(gltf.meshes[mesh_index].primitives):
            local = accessor(gltf, primitive.attributes.POSITION).astype(np.float64)
            world = local @ matrices[node_index][:3, :3].T + matrices[node_index][:3, 3]
            positions.append(y_up_to_z_up(world))
            if (primitive.mode if primitive.mode is not None else TRIANGLES) == TRIANGLES:
                corners = (accessor(gltf, primitive.indices).reshape(-1) if primitive.indices is not None
                           else np.arange(len(local)))
                triangles.append(corners.astype(np.int64).reshape(-1, 3) + count)
            primitives.append(Primitive(node_index, mesh_index, number, count, len(local)))
            count += len(local)
    if not primitives:
        raise GltfUnreadable("the file has no mesh")
    return GltfMesh(np.concatenate(positions), np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64),
                    primitives, nodes)
