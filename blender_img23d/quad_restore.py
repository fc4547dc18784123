"""Quads back from a finished object's GLB: glTF carries triangles only, so the backend writes
quad k as triangles 2k and 2k + 1, quads first, and says how many in the glTF mesh's extras
(``{"img23d_quads": Q}``: see the backend's ``finish/glb.py`` and docs/game-ready.md). Blender's
glTF importer turns a mesh's extras into custom properties of its mesh data and keeps the
triangles in the file's order (both checked in tests/blender/test_addon_finish_assets.py), so
each pair's shared edge is dissolved here with bmesh.

A pair shares an edge only once the copies the file made of a vertex are welded: glTF splits
vertices along UV seams and hard edges, and a seam or a hard edge may run along a quad's diagonal.
``scene_import`` welds them first (``seam_weld``: by position along the cut edges, face order and
corner data kept, the corners' normals set back afterwards), so every pair of a closed file arrives
as one quad of one closed mesh.

The file is untrusted input: Q must be a whole number within 0..faces/2, and a pair joins only
if both faces are triangles sharing exactly one edge; any other pair stays two triangles, counted
and said once per object.
"""

from __future__ import annotations

from dataclasses import dataclass

import bmesh
import bpy

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


def _shared_edge(first: bmesh.types.BMFace, second: bmesh.types.BMFace) -> bmesh.types.BMEdge | None:
    """The one edge two triangles share, else None (not triangles, no edge, or the same face twice)."""
    if len(first.verts) != 3 or len(second.verts) != 3:
        return None
    shared = set(first.edges) & set(second.edges)
    if len(shared) != 1:
        return None
    edge = shared.pop()
    return edge if len(edge.link_faces) == 2 else None  # a third face on it: dissolving would not make a quad
