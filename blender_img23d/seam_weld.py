"""One vertex per point of the surface for an imported GLB: glTF keeps one normal and one UV per
vertex, so a writer splits a vertex into copies wherever a UV seam or a hard edge runs through it,
and Blender's importer brings each copy in as a vertex of its own. Left so, a closed mesh arrives
torn along every seam: islands apart, open edges, an artist's Select Linked or a modifier sees
pieces. Blender keeps UVs and normals per face corner, so the copies are welded here and each
corner keeps what the file gave it.

What is welded: the copies the writer made, found by their edges. Two open edges (each with one
face) whose ends lie at exactly the same two positions, and no other edge there, are one edge of the
surface cut in two: their ends are welded, and with them every copy joined to them the same way. Exact
float equality, not a tolerance: a writer copies a vertex's position bit for bit (the file holds
float32), and any tolerance would also join parts that merely come close. Parts that only touch at
a point, or share a position without sharing an edge, stay apart (welding them would make a
vertex that is not manifold where the file had two that are), and so do three or more open edges
on one pair of positions. A weld that would give a face the same vertex twice is left out.

The weld (bmesh's ``weld_verts``) leaves faces, their corners and their order as they are; corner
data (UVs) is untouched, and a value per vertex (a vertex colour) is the kept copy's, as the copies
of one point carry one value. A finished object's quads are restored first
(``quad_restore``, which welds each pair's own diagonal): a quad's diagonal is no edge of the
surface, and two quads sharing two edges would put four triangles on one diagonal. The corners'
normals are kept by ``kept_normals``: read before, set back corner by corner after (Blender 4.1+
has no auto smooth; ``normals_split_custom_set`` marks as sharp the edges where a welded vertex's
corners differ, so a hard edge stays hard in 4.2, 5.0 and 5.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import bmesh
import bpy
import numpy as np

_KEPT_NORMALS = ".img23d_corner_normals"   # a hidden corner attribute: survives welding and bmesh
_FACE_ORDER = "img23d_face_order"           # a bmesh face layer while welding


@dataclass(frozen=True)
class Weld:
    """What welding did to one mesh."""

    vertices_before: int
    vertices_after: int
    held_apart: int = 0   # vertices at one position left apart: a weld there would collapse a face


def weld_seams(mesh: bpy.types.Mesh) -> Weld:
    """Weld the vertex copies of ``mesh`` along its cut edges (see the module's docstring).
    Faces, their order and their corners' data are kept; vertices no corner uses any more go."""
    corner_verts = _array(mesh.loops, "vertex_index", len(mesh.loops))
    return weld_pairs(mesh, _cut_edge_ends(mesh, corner_verts), corner_verts)


def weld_pairs(mesh: bpy.types.Mesh, pairs: np.ndarray, corner_verts: np.ndarray | None = None) -> Weld:
    """Make each pair of vertices in ``pairs`` (P, 2), and every vertex joined to them through
    other pairs, one vertex: the lowest-numbered. A weld that would put one vertex twice in a face is
    left out. Faces keep their order and their corners' data."""
    count = len(mesh.vertices)
    if not len(pairs):
        return Weld(count, count)
    if corner_verts is None:
        corner_verts = _array(mesh.loops, "vertex_index", len(mesh.loops))
    target = _components(count, pairs)
    target, held = _keep_faces_whole(mesh, corner_verts, target)
    moved = np.flatnonzero(target != np.arange(count))
    if not len(moved):
        return Weld(count, count, held)
    # bmesh's weld, not corners pointed elsewhere and edges recomputed: Blender 5.0 frees a mesh
    # so changed with the wrong allocator once bmesh writes it back (and crashed repeated imports).
    bm = bmesh.new()
    try:
        bm.from_mesh(mesh)
        order = bm.faces.layers.int.new(_FACE_ORDER)
        for index, face in enumerate(bm.faces):
            face[order] = index
        bm.verts.ensure_lookup_table()
        bmesh.ops.weld_verts(bm, targetmap={bm.verts[int(v)]: bm.verts[int(target[v])] for v in moved})
        if any(face[order] != index for index, face in enumerate(bm.faces)):
            bm.faces.sort(key=lambda face: face[order])  # faces it rebuilt may have gone to the end
        bm.faces.layers.int.remove(order)
        bm.to_mesh(mesh)
    finally:
        bm.free()
    mesh.update()
    return Weld(count, len(mesh.vertices), held)


@contextmanager
def kept_normals(mesh: bpy.types.Mesh) -> Iterator[None]:
    """Give every corner of ``mesh`` the normal it had on entry once the block has changed the
    mesh's vertices or faces (a weld, quads joined), where the mesh has custom normals. The normals
    ride in a hidden corner attribute, which bmesh carries through joins like a UV. A block that
    welded nothing and joined nothing (as many vertices and corners as before) leaves Blender's
    own custom normals, still right, as they are."""
    if not mesh.has_custom_normals:
        yield
        return
    counts = len(mesh.vertices), len(mesh.loops)
    normals = _array(mesh.corner_normals, "vector", 3 * len(mesh.loops), np.float32)
    mesh.attributes.new(_KEPT_NORMALS, "FLOAT_VECTOR", "CORNER").data.foreach_set("vector", normals)
    try:
        yield
    except BaseException:
        mesh.attributes.remove(mesh.attributes[_KEPT_NORMALS])
        raise
    stored = mesh.attributes[_KEPT_NORMALS]
    normals = _array(stored.data, "vector", 3 * len(mesh.loops), np.float32)
    mesh.attributes.remove(stored)
    if (len(mesh.vertices), len(mesh.loops)) != counts:
        # A list, not the array: bpy reads a numpy array here value by value, several times slower.
        mesh.normals_split_custom_set(normals.reshape(-1, 3).tolist())
        mesh.update()


def _cut_edge_ends(mesh: bpy.types.Mesh, corner_verts: np.ndarray) -> np.ndarray:
    """Pairs of vertices to weld, (P, 2): the matching ends of each pair of open edges that lie on
    exactly the same two positions with no third edge there."""
    count = len(mesh.vertices)
    positions = _array(mesh.vertices, "co", 3 * count, np.float32).reshape(-1, 3)
    _, place = np.unique(positions, axis=0, return_inverse=True)
    place = place.reshape(-1)  # numpy 2.0 gave the inverse of an axis-unique another shape
    if len(np.unique(place)) == count:
        return np.empty((0, 2), dtype=np.int64)
    ends = _array(mesh.edges, "vertices", 2 * len(mesh.edges)).reshape(-1, 2)
    faces = np.bincount(_array(mesh.loops, "edge_index", len(corner_verts)), minlength=len(ends))
    used = faces > 0
    ends, faces = ends[used], faces[used]
    a, b = place[ends[:, 0]], place[ends[:, 1]]
    keys = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
    keys = keys[:, 0] * np.int64(count) + keys[:, 1]
    order = np.argsort(keys, kind="stable")
    keys, ends, faces, a = keys[order], ends[order], faces[order], a[order]
    _, first, size = np.unique(keys, return_index=True, return_counts=True)
    first = first[size == 2]
    one, two = first, first + 1
    open_pair = (faces[one] == 1) & (faces[two] == 1) & (a[one] != place[ends[one, 1]])
    one, two = one[open_pair], two[open_pair]
    flip = a[one] != a[two]   # the second edge runs the other way: match its ends crosswise
    other = np.where(flip[:, None], ends[two][:, ::-1], ends[two])
    return np.concatenate([np.stack([ends[one, 0], other[:, 0]], 1), np.stack([ends[one, 1], other[:, 1]], 1)])


def _components(count: int, pairs: np.ndarray) -> np.ndarray:
    """For each vertex, the lowest-numbered vertex joined to it through ``pairs``."""
    label = np.arange(count)
    left, right = pairs[:, 0], pairs[:, 1]
    while True:
        low = np.minimum(label[left], label[right])
        new = label.copy()
        np.minimum.at(new, left, low)
        np.minimum.at(new, right, low)
        new = new[new]  # a label is never above its vertex: follow it to its own label
        if np.array_equal(new, label):
            return label
        label = new


def _keep_faces_whole(mesh: bpy.types.Mesh, corner_verts: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, int]:
    """``target`` without the welds that would put one vertex twice in a face (a sliver whose two
    corners share a position): each such weld's vertices stay as the file has them."""
    sizes = _array(mesh.polygons, "loop_total", len(mesh.polygons))
    face = np.repeat(np.arange(len(sizes)), sizes)  # a mesh's corners run face by face, in face order
    welded = target[corner_verts]
    order = np.lexsort((welded, face))
    twice = (face[order][1:] == face[order][:-1]) & (welded[order][1:] == welded[order][:-1])
    if not twice.any():
        return target, 0
    blocked = np.isin(target, welded[order][1:][twice])
    held = int(blocked.sum())
    target = target.copy()
    target[blocked] = np.flatnonzero(blocked)
    return target, held


def _array(collection: object, name: str, size: int, dtype: type = np.int64) -> np.ndarray:
    values = np.empty(size, dtype=np.int32 if dtype is np.int64 else dtype)
    collection.foreach_get(name, values)
    return values.astype(dtype, copy=False)
