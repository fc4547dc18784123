"""Quads through the bake: each quad's two triangles in one UV chart, split along the diagonal that
MikkTSpace picks for the quad.

A finished GLB holds quad k as triangles 2k and 2k + 1 and the add-on joins them back into quads.
Blender's MikkTSpace (``Mesh.calc_tangents``; intern/mikktspace/mikktspace.hh, and mikktspace.c's
``GenerateInitialVerticesIndexList`` before it) splits a quad along its shorter diagonal in UV
space (corners 0-2 when |uv2 - uv0|^2 < |uv3 - uv1|^2, 1-3 when greater; on a tie the shorter
diagonal in space, 0-2 unless 1-3 is strictly shorter). A game engine reading the GLB computes
MikkTSpace on the file's triangles. Both rebuild one frame, the one the map was baked in, only if the
file's triangles are the quad's own MikkTSpace split: ``mikktspace_split`` makes them so once the
final UVs are known. The two triangles of a quad then share the diagonal's corners (position, normal
and UV), so MikkTSpace puts them in one group at those corners and never averages two frames there.

xatlas charts triangles: it may cut a quad along its diagonal (0.6 % of the example house's quads at
5,000, 4.5 % of a generated Hunyuan3D mesh's). Blender's quad then has corners from two charts, and
neither its texture nor its tangents can be right inside it. ``keep_quads_in_one_chart`` moves one
of the two triangles into its partner's chart, unfolded across the diagonal with the partner's own
mapping, where it overlaps nothing of that chart (else the quad becomes a chart of its own), and
``repack`` packs the changed charts again (xatlas with the UVs given, ``use_input_mesh_uvs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ...uv.unwrap import AtlasPacking

_SHRINK = 1e-3  # a moved triangle is tested shrunk by this share, so touching its neighbours is no overlap


@dataclass(frozen=True)
class QuadCharts:
    """What keeping quads whole in the atlas did."""

    moved: int = 0  # quads whose one triangle was unfolded into the other's chart
    alone: int = 0  # quads where neither fitted beside its partner: cut out as a chart of their own
    split: int = 0  # quads left across two charts (degenerate: no diagonal to unfold across)


def charts_of(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """Per face, its chart: faces joined through shared vertices (an unwrap splits them at seams)."""
    count = len(faces)
    rows = np.repeat(np.arange(count), 3)
    graph = coo_matrix((np.ones(rows.size), (rows, count + faces.reshape(-1))),
                       shape=(count + vertex_count, count + vertex_count))
    return connected_components(graph, directed=False)[1][:count]


def split_quads(faces: np.ndarray, quads: int) -> np.ndarray:
    """Indices of the quads whose two triangles share fewer than two vertices (a seam on the diagonal)."""
    first, second = faces[0:2 * quads:2], faces[1:2 * quads:2]
    shared = (first[:, :, None] == second[:, None, :]).any(axis=2).sum(axis=1)
    return np.flatnonzero(shared < 2)


def keep_quads_in_one_chart(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, source_faces: np.ndarray,
                            quads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, QuadCharts]:
    """After an unwrap: each quad whose triangles the unwrap put in two charts gets one triangle moved
    into the other's chart (see the module's docstring). ``source_faces`` are the faces before the
    unwrap, in the same order and corner order (xatlas keeps both). Returns the mesh and what was done."""
    todo = split_quads(faces, quads)
    if len(todo) == 0:
        return vertices, faces, uvs, QuadCharts()
    faces = faces.copy()
    chart = charts_of(faces, len(vertices))
    moved = alone = 0
    for k in todo.tolist():
        for anchor, mover in ((2 * k, 2 * k + 1), (2 * k + 1, 2 * k)):
            corners, uv_tri, position = _unfolded(vertices, uvs, faces, source_faces, anchor, mover, len(vertices))
            if corners is None:
                break  # no diagonal to unfold across (a degenerate quad): left as it is
            target = int(chart[anchor])
            members = np.flatnonzero((chart == target) & (np.arange(len(faces)) != mover))
            if _overlaps(uv_tri, uvs[faces[members]]):  # its own chart, triangles moved into it included
                continue
            faces[mover] = corners
            vertices = np.concatenate([vertices, position[None]])
            uvs = np.concatenate([uvs, uv_tri[1][None]])
            chart[mover] = target
            moved += 1
            break
        else:  # neither fits beside its partner: the quad becomes a chart of its own, which fits anywhere
            anchor, mover = 2 * k, 2 * k + 1
            vertices = np.concatenate([vertices, vertices[faces[anchor]]])
            uvs = np.concatenate([uvs, uvs[faces[anchor]]])
            faces[anchor] = len(vertices) - 3 + np.arange(3)
            corners, uv_tri, position = _unfolded(vertices, uvs, faces, source_faces, anchor, mover, len(vertices))
            faces[mover] = corners
            vertices = np.concatenate([vertices, position[None]])
            uvs = np.concatenate([uvs, uv_tri[1][None]])
            chart[anchor] = chart[mover] = chart.max() + 1
            alone += 1
    return vertices, faces, uvs, QuadCharts(moved=moved, alone=alone, split=len(todo) - moved - alone)


def _unfolded(vertices: np.ndarray, uvs: np.ndarray, faces: np.ndarray, source_faces: np.ndarray,
              anchor: int, mover: int, new_index: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """The moved triangle's corners (the anchor's vertices on the diagonal, ``new_index`` for its own
    corner), its UVs (b, own corner, d: unfolded across the diagonal b-d with the anchor's mapping
    from space to UV) and its own corner's position; corners None when the two share no diagonal."""
    source_anchor, source_mover = source_faces[anchor].tolist(), source_faces[mover].tolist()
    shared = [v for v in source_mover if v in source_anchor]
    if len(shared) != 2:
        return None, np.zeros((3, 2)), np.zeros(3)
    own = [i for i in range(3) if source_mover[i] not in source_anchor][0]
    b_src, d_src = source_mover[(own + 2) % 3], source_mover[(own + 1) % 3]  # the mover runs own -> d -> b
    b = faces[anchor, source_anchor.index(b_src)]
    d = faces[anchor, source_anchor.index(d_src)]
    a = faces[anchor, [i for i in range(3) if source_anchor[i] not in source_mover][0]]
    c_position = vertices[faces[mover, own]]
    p_a, p_b, p_d = vertices[a], vertices[b], vertices[d]
    along = p_d - p_b
    length = np.linalg.norm(along)
    normal = np.cross(p_d - p_b, p_a - p_b)
    if length < 1e-12 or np.linalg.norm(normal) < 1e-12:
        return None, np.zeros((3, 2)), np.zeros(3)
    e = along / length
    f = np.cross(normal / np.linalg.norm(normal), e)  # in the anchor's plane, towards a
    local_a = np.array([np.dot(p_a - p_b, e), np.dot(p_a - p_b, f)])
    local_d = np.array([length, 0.0])
    offset = c_position - p_b
    along_c = np.dot(offset, e)
    local_c = np.array([along_c, -np.linalg.norm(offset - along_c * e)])  # the far side of the diagonal from a
    mapping = np.stack([uvs[d] - uvs[b], uvs[a] - uvs[b]], axis=1) @ np.linalg.inv(np.stack([local_d, local_a], axis=1))
    uv_c = uvs[b] + mapping @ local_c
    corners = np.empty(3, dtype=faces.dtype)
    corners[own], corners[(own + 1) % 3], corners[(own + 2) % 3] = new_index, d, b
    return corners, np.stack([uvs[b], uv_c, uvs[d]]), c_position


def _overlaps(triangle: np.ndarray, others: np.ndarray) -> bool:
    """Whether the UV triangle (3, 2), shrunk a little, overlaps any of ``others`` (M, 3, 2): the
    separating axis test over the six edge normals."""
    centre = triangle.mean(axis=0)
    triangle = centre + (triangle - centre) * (1.0 - _SHRINK)
    low, high = triangle.min(axis=0), triangle.max(axis=0)
    near = (others.min(axis=1) <= high).all(axis=1) & (others.max(axis=1) >= low).all(axis=1)
    others = others[near]
    if len(others) == 0:
        return False
    separated = np.zeros(len(others), dtype=bool)
    for shape in (np.broadcast_to(triangle, others.shape), others):
        for i in range(3):
            edge = shape[:, (i + 1) % 3] - shape[:, i]
            axis = np.stack([-edge[:, 1], edge[:, 0]], axis=1)
            mine = np.einsum("mkd,md->mk", np.broadcast_to(triangle, others.shape), axis)
            theirs = np.einsum("mkd,md->mk", others, axis)
            separated |= (mine.max(axis=1) <= theirs.min(axis=1)) | (theirs.max(axis=1) <= mine.min(axis=1))
    return bool((~separated).any())


def repack(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray,
           packing: AtlasPacking) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The charts as they are (UV islands), packed again for the bake size with its padding."""
    import xatlas

    atlas = xatlas.Atlas()
    atlas.add_mesh(np.asarray(vertices, dtype=np.float32), np.asarray(faces, dtype=np.uint32),
                   uvs=np.asarray(uvs, dtype=np.float32))
    charts = xatlas.ChartOptions()
    charts.use_input_mesh_uvs = True
    options = xatlas.PackOptions()
    options.resolution = packing.resolution
    options.padding = packing.padding
    atlas.generate(chart_options=charts, pack_options=options)
    mapping, new_faces, new_uvs = atlas[0]
    return (np.asarray(vertices, dtype=np.float64)[mapping], np.asarray(new_faces, dtype=np.int64),
            np.asarray(new_uvs, dtype=np.float64))


def _as_blender_reads(uvs: np.ndarray) -> np.ndarray:
    """UVs as Blender holds them after the GLB: float32, v stored as 1 - v and turned back in float32."""
    u = uvs[:, 0].astype(np.float32)
    v = np.float32(1.0) - (1.0 - uvs[:, 1]).astype(np.float32)
    return np.stack([u, v], axis=1)


def mikktspace_split(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, quads: int) -> np.ndarray:
    """The faces with each of the first ``quads`` pairs split along the diagonal MikkTSpace picks for
    their quad (see the module's docstring); pairs stay 2k, 2k + 1, other faces as they are. A pair
    that shares no diagonal (left across two charts) is left as it is."""
    faces = faces.copy()
    first, second = faces[0:2 * quads:2], faces[1:2 * quads:2]
    in_second = (first[:, :, None] == second[:, None, :]).any(axis=2)  # (Q, 3): first's corner in second
    whole = in_second.sum(axis=1) == 2
    rows = np.flatnonzero(whole)
    first, second = first[rows], second[rows]
    own = np.argmin(in_second[rows], axis=1)  # the first triangle's corner off the diagonal
    pick = np.arange(len(rows))
    p, s1, s2 = first[pick, own], first[pick, (own + 1) % 3], first[pick, (own + 2) % 3]
    q = second[pick, np.argmin((second[:, :, None] == first[:, None, :]).any(axis=2), axis=1)]
    # the quad is p, s1, q, s2 (the second triangle runs s1 -> q -> s2); MikkTSpace's rule, in float32
    uv = _as_blender_reads(uvs)
    position = np.asarray(vertices, dtype=np.float32)
    uv_02, uv_13 = _length_squared(uv[q] - uv[p]), _length_squared(uv[s2] - uv[s1])
    at_02, at_13 = _length_squared(position[q] - position[p]), _length_squared(position[s2] - position[s1])
    diagonal_02 = np.where(uv_02 != uv_13, uv_02 < uv_13, ~(at_13 < at_02))
    triangles = np.where(diagonal_02[:, None, None],
                         np.stack([np.stack([p, s1, q], 1), np.stack([p, q, s2], 1)], axis=1),
                         np.stack([np.stack([p, s1, s2], 1), np.stack([s1, q, s2], 1)], axis=1))
    faces[2 * rows] = triangles[:, 0]
    faces[2 * rows + 1] = triangles[:, 1]
    return faces


def _length_squared(vectors: np.ndarray) -> np.ndarray:
    """Squared lengths summed in float32, component by component, as mikktspace's float3 does."""
    total = np.zeros(len(vectors), dtype=np.float32)
    for i in range(vectors.shape[1]):
        total = total + vectors[:, i] * vectors[:, i]
    return total
