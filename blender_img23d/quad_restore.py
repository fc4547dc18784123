"""Quads back from a finished object's GLB: glTF carries triangles only, so the backend writes
quad k as triangles 2k and 2k + 1, quads first, and says how many in the glTF mesh's extras
(``{"img23d_quads": Q}``: see the backend's ``finish/glb.py`` and docs/game-ready.md). Blender's
glTF importer turns a mesh's extras into custom properties of its mesh data and keeps the
triangles in the file's order (both checked in tests/blender/test_addon_finished_import.py), so
each pair's shared edge is dissolved here with bmesh.

A pair whose diagonal lies on a UV seam or a hard edge shares no vertex there in the file (glTF
splits vertices at both): the copies of its diagonal's ends are welded first (``seam_weld.weld_pairs``:
face order and corner data kept). Only the pairs' own diagonals are welded here, before the join:
the rest of the mesh is welded after it by ``seam_weld.weld_seams``, on the quads, where no
diagonal is an edge any more (two quads that share two edges would otherwise crowd four triangles
onto one diagonal). ``scene_import`` runs both inside ``seam_weld.kept_normals``, so every corner
keeps its normal.

The file is untrusted input: Q must be a whole number within 0..faces/2, and a pair joins only
if both faces are triangles sharing exactly one edge; any other pair stays two triangles, counted
and said once per object.
"""

from __future__ import annotations

from dataclasses import dataclass

import bmesh
import bpy
import numpy as np

from . import seam_weld

QUADS_PROP = "img23d_quads"


@dataclass(frozen=True)
class QuadRestore:
    """What restoring quads did to one mesh: ``note`` is the one sentence for the artist, if any."""

    asked: int = 0        # quads the file announced, once checked (0 when the announcement was refused)
    joined: int = 0
    refused: int = 0      # pairs left as two triangles: not two triangles sharing exactly one edge
    note: str = ""


def checked_quad_count(value: object, faces: int) -> tuple[int, str]:
    """The announced quad count if it is a whole number within 0..faces/2, else 0 and why not."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0, f"its quad count {value!r} is not a whole number"
    if not 0 <= value <= faces // 2:
        return 0, f"its quad count {value:,} does not fit its {faces:,} triangles (at most {faces // 2:,})"
    return value, ""


def restore_quads(mesh: bpy.types.Mesh, label: str) -> QuadRestore:
    """Join the leading triangle pairs of ``mesh`` into the quads its ``img23d_quads`` property
    announces, then drop the property (the mesh now holds the quads themselves). ``label`` names
    the object in the note. A mesh without the property is left alone."""
    if QUADS_PROP not in mesh:
        return QuadRestore()
    value = mesh[QUADS_PROP]
    del mesh[QUADS_PROP]
    asked, problem = checked_quad_count(value, len(mesh.polygons))
    if problem:
        return QuadRestore(note=f"'{label}' stays triangles: {problem}")
    if asked == 0:
        return QuadRestore()
    seam_weld.weld_pairs(mesh, _split_diagonals(mesh, asked))
    bm = bmesh.new()
    try:
        bm.from_mesh(mesh)
        bm.faces.ensure_lookup_table()
        diagonals = []
        for k in range(asked):
            shared = _shared_edge(bm.faces[2 * k], bm.faces[2 * k + 1])
            if shared is not None:
                diagonals.append(shared)
        if diagonals:
            # Each diagonal lies between its own pair's two faces only, so dissolving them all at
            # once makes one quad per pair; face-corner data (UVs, the kept normals) is kept by bmesh.
            bmesh.ops.dissolve_edges(bm, edges=diagonals, use_verts=False, use_face_split=False)
        bm.to_mesh(mesh)
    finally:
        bm.free()
    mesh.update()
    refused = asked - len(diagonals)
    note = ""
    if refused:
        note = (f"'{label}': {refused:,} of its {asked:,} quads were left as two triangles each "
                "(the file's triangle pairs share no edge there)")
    return QuadRestore(asked=asked, joined=len(diagonals), refused=refused, note=note)


def _split_diagonals(mesh: bpy.types.Mesh, pairs: int) -> np.ndarray:
    """The vertices to weld, (P, 2), where the file split a pair's diagonal: each corner of a second
    triangle at one of its first triangle's positions (an exact match: the file wrote one position
    twice), with the first's vertex there. A pair that does not have exactly two positions in
    common, or with a triangle that has two corners at one position, is left alone (and counted by
    ``restore_quads``)."""
    count, pairs = len(mesh.vertices), min(pairs, len(mesh.polygons) // 2)
    positions = np.empty(3 * count, dtype=np.float32)
    mesh.vertices.foreach_get("co", positions)
    _, place = np.unique(positions.reshape(-1, 3), axis=0, return_inverse=True)
    place = place.reshape(-1)  # numpy 2.0 gave the inverse of an axis-unique another shape
    corner_verts = np.empty(len(mesh.loops), dtype=np.int64)
    mesh.loops.foreach_get("vertex_index", corner_verts)
    sizes = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    if not pairs or (sizes[:2 * pairs] != 3).any():
        # Faces other than triangles among the pairs (never from a glTF file): the corners below are
        # read three a face; restore_quads leaves such pairs as they are.
        return np.empty((0, 2), dtype=np.int64)
    first, second = corner_verts[:6 * pairs].reshape(pairs, 2, 3).transpose(1, 0, 2)
    first_at, second_at = place[first], place[second]
    match = second_at[:, :, None] == first_at[:, None, :]  # a second corner at a first corner's position
    common = match.any(axis=2)
    wanted = (_three_places(first_at) & _three_places(second_at) & (common.sum(axis=1) == 2))[:, None] & common
    partner = np.take_along_axis(first, match.argmax(axis=2), axis=1)
    return np.stack([second[wanted], partner[wanted]], axis=1)


def _three_places(triangles: np.ndarray) -> np.ndarray:
    """Whether each triangle's three corners (as position indices, (T, 3)) lie at three positions."""
    return ((triangles[:, 0] != triangles[:, 1]) & (triangles[:, 1] != triangles[:, 2])
            & (triangles[:, 0] != triangles[:, 2]))


def _shared_edge(first: bmesh.types.BMFace, second: bmesh.types.BMFace) -> bmesh.types.BMEdge | None:
    """The one edge two triangles share, else None (not triangles, no edge, or the same face twice)."""
    if len(first.verts) != 3 or len(second.verts) != 3:
        return None
    shared = set(first.edges) & set(second.edges)
    if len(shared) != 1:
        return None
    edge = shared.pop()
    return edge if len(edge.link_faces) == 2 else None  # a third face on it: dissolving would not make a quad
