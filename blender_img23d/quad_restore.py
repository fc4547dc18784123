"""Quads back from a finished object's GLB: glTF carries triangles only, so the backend writes
quad k as triangles 2k and 2k + 1, quads first, and says how many in the glTF mesh's ``extras``
(``{"img23d_quads": Q}``: see the backend's ``finish/glb.py`` and docs/game-ready.md). Blender's
glTF importer turns a mesh's extras into custom properties of its mesh data and keeps the
triangles in the file's order (both checked in tests/blender/test_addon_finish_assets.py), so
each pair's shared edge is dissolved here with bmesh.

The file is untrusted input: Q must be a whole number within 0..faces/2, and a pair joins only
if both faces are triangles sharing exactly one edge; any other pair stays two triangles, counted
and said once per object. A pair whose diagonal lies on a UV seam shares no vertex in the file
(glTF splits vertices there), so a finished GLB is imported with the importer's Merge Vertices
(``finished_glb`` tells which files are): Blender keeps UVs and normals per face corner, and an
artist editing quads wants one connected mesh, not one torn at every seam. Merge Vertices keeps
apart corners whose normals differ (a quad folded across a hard edge): those pairs are welded here.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import bmesh
import bpy

from . import corner_normals

QUADS_PROP = "img23d_quads"
_GLB_MAGIC, _JSON_CHUNK = 0x46546C67, 0x4E4F534A


@dataclass(frozen=True)
class QuadRestore:
    """What restoring quads did to one mesh: ``note`` is the one sentence for the artist, if any."""

    asked: int = 0        # quads the file announced, once checked (0 when the announcement was refused)
    joined: int = 0
    refused: int = 0      # pairs left as two triangles: not two triangles sharing exactly one edge
    note: str = ""


def finished_glb(path: Path) -> bool:
    """Whether the GLB at ``path`` announces quads (any mesh's extras name ``img23d_quads``): read
    from its JSON chunk only (binary glTF 2.0: a 12-byte header, then the JSON chunk first)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
            if len(header) < 20:
                return False
            magic, version, _, length, kind = struct.unpack("<IIIII", header)
            if magic != _GLB_MAGIC or version != 2 or kind != _JSON_CHUNK or length > 64 * 1024 * 1024:
                return False
            document = json.loads(handle.read(length).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False  # the importer says what is wrong with the file
    meshes = document.get("meshes") if isinstance(document, dict) else None
    return isinstance(meshes, list) and any(
        isinstance(mesh, dict) and isinstance(mesh.get("extras"), dict) and QUADS_PROP in mesh["extras"]
        for mesh in meshes)


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
    normals = corner_normals.read(mesh)  # the faces change below: the file's normals must not
    _weld_split_diagonals(mesh, asked)
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
            # once makes one quad per pair; face-corner data (UVs, normals) is kept by bmesh.
            bmesh.ops.dissolve_edges(bm, edges=diagonals, use_verts=False, use_face_split=False)
        loose = [vertex for vertex in bm.verts if not vertex.link_edges]
        if loose:  # left by the welding of split diagonals
            bmesh.ops.delete(bm, geom=loose, context="VERTS")
        bm.to_mesh(mesh)
    finally:
        bm.free()
    mesh.update()
    corner_normals.restore(mesh, normals)
    refused = asked - len(diagonals)
    note = ""
    if refused:
        note = (f"'{label}': {refused:,} of its {asked:,} quads were left as two triangles each "
                "(the file's triangle pairs share no edge there)")
    return QuadRestore(asked=asked, joined=len(diagonals), refused=refused, note=note)


def _weld_split_diagonals(mesh: bpy.types.Mesh, pairs: int) -> None:
    """Give the two triangles of a pair the same vertices where the file split its diagonal.

    The importer's Merge Vertices welds only corners whose normals agree too, so a quad folded
    across a hard edge arrives as two triangles that share two positions but no vertex. Their
    second triangle's corners are pointed at the first's vertices at the same position (an exact
    match: the file wrote one position twice), polygon order untouched; the corners keep their own
    UVs and normals. Vertices no face uses any more are removed afterwards by ``restore_quads``."""
    positions = [tuple(vertex.co) for vertex in mesh.vertices]
    polygons, loops = mesh.polygons, mesh.loops
    changed = False
    for k in range(min(pairs, len(polygons) // 2)):
        first, second = polygons[2 * k], polygons[2 * k + 1]
        if first.loop_total != 3 or second.loop_total != 3:
            continue
        firsts = {positions[index]: index for index in first.vertices}
        if len(firsts) != 3 or len(set(first.vertices) & set(second.vertices)) >= 2:
            continue
        remap = {index: firsts[positions[index]] for index in second.vertices
                 if positions[index] in firsts and firsts[positions[index]] != index}
        if len(remap) + len(set(first.vertices) & set(second.vertices)) != 2:
            continue  # not two triangles of one quad: leave them (counted by restore_quads)
        for loop in range(second.loop_start, second.loop_start + 3):
            loops[loop].vertex_index = remap.get(loops[loop].vertex_index, loops[loop].vertex_index)
        changed = True
    if changed:
        mesh.update(calc_edges=True)


def _shared_edge(first: bmesh.types.BMFace, second: bmesh.types.BMFace) -> bmesh.types.BMEdge | None:
    """The one edge two triangles share, else None (not triangles, no edge, or the same face twice)."""
    if len(first.verts) != 3 or len(second.verts) != 3:
        return None
    shared = set(first.edges) & set(second.edges)
    if len(shared) != 1:
        return None
    edge = shared.pop()
    return edge if len(edge.link_faces) == 2 else None  # a third face on it: dissolving would not make a quad
