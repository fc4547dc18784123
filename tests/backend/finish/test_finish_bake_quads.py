"""Quads through the bake (finish/bake/quads.py): each quad split along the diagonal Blender's
MikkTSpace picks for it, so that its tangents on the quad equal the bake's on the file's triangles,
and each quad's two triangles kept in one UV chart, moved beside their partner or cut out alone.
(Blender's calc_tangents on quads imported by the add-on: tests/blender/test_addon_quad_tangents.py.)"""

from __future__ import annotations

from typing import Iterator

import bpy
import numpy as np
import pytest
import trimesh

from img23d_backend.env.job_control import CancelToken
from img23d_backend.finish.bake import BakeSettings, bake
from img23d_backend.finish.bake.pipeline import smooth_normals
from img23d_backend.finish.bake.quads import charts_of, keep_quads_in_one_chart, mikktspace_split, split_quads
from img23d_backend.finish.bake.tangents import mikktspace_tangents
from img23d_backend.finish.quad_mesh import triangulate_quads
from img23d_backend.uv.unwrap import Unwrapper


@pytest.fixture(scope="module")
def unwrapper() -> Iterator[Unwrapper]:
    with Unwrapper(CancelToken()) as worker:
        yield worker


def _quad_grid(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An n x n grid of quads on a bumpy sheet, with jittered UVs (float32-exact, so Blender sees
    the same values): positions, quads, one UV per vertex."""
    rng = np.random.default_rng(seed)
    side = n + 1
    x, y = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    jitter = rng.uniform(-0.2, 0.2, (side * side, 2))
    xy = np.stack([x.ravel(), y.ravel()], axis=1) + jitter
    z = 0.3 * np.sin(xy[:, 0]) * np.cos(0.7 * xy[:, 1])
    positions = np.concatenate([xy, z[:, None]], axis=1)
    uvs = np.round((xy + rng.uniform(-0.1, 0.1, xy.shape) + 1.0) / (n + 3) * 4096) / 4096
    i = (np.arange(n)[None, :] + side * np.arange(n)[:, None]).ravel()
    quads = np.stack([i, i + 1, i + side + 1, i + side], axis=1)
    return positions, quads, uvs


def _blender_quad_tangents(positions: np.ndarray, quads: np.ndarray, uvs: np.ndarray,
                           normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blender's own MikkTSpace on the quads: per quad corner, tangent and bitangent sign."""
    mesh = bpy.data.meshes.new("quads")
    try:
        mesh.from_pydata(positions.tolist(), [], quads.tolist())
        mesh.uv_layers.new(name="UVMap")
        mesh.uv_layers[0].data.foreach_set("uv", uvs[quads].astype(np.float32).ravel())
        mesh.polygons.foreach_set("use_smooth", np.ones(len(quads), dtype=bool))
        mesh.normals_split_custom_set_from_vertices(normals.tolist())
        mesh.update()
        mesh.calc_tangents()
        tangent, sign = np.zeros(quads.size * 3, np.float32), np.zeros(quads.size, np.float32)
        mesh.loops.foreach_get("tangent", tangent)
        mesh.loops.foreach_get("bitangent_sign", sign)
        return tangent.reshape(-1, 4, 3), sign.reshape(-1, 4)
    finally:
        bpy.data.meshes.remove(mesh)


def _per_quad_corner(triangles: np.ndarray, tangents: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """The tangents of triangles 2k, 2k + 1 at quad k's four corners, in the quad's corner order."""
    out = np.zeros(quads.shape + (4,))
    for k, quad in enumerate(quads):
        for t in (2 * k, 2 * k + 1):
            for i, vertex in enumerate(triangles[t]):
                out[k, quad.tolist().index(vertex)] = tangents[t, i]
    return out


def test_quads_split_along_mikktspaces_diagonal_get_blenders_quad_tangents() -> None:
    positions, quads, uvs = _quad_grid(12)
    triangles = triangulate_quads(positions, quads)  # the shorter diagonal in space, as retopo splits
    normals = smooth_normals(positions, triangles)
    blender_tangent, blender_sign = _blender_quad_tangents(positions, quads, uvs, normals)

    def off(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ours = _per_quad_corner(faces, mikktspace_tangents(positions[faces], normals[faces], uvs[faces]), quads)
        cos = np.sum(ours[..., :3] * blender_tangent, axis=-1) / np.linalg.norm(blender_tangent, axis=-1)
        return np.degrees(np.arccos(np.clip(cos, -1, 1))), ours[..., 3] != blender_sign

    split = mikktspace_split(positions, triangles, uvs, len(quads))
    assert (split != triangles).any(axis=1).sum() > len(triangles) // 5  # many quads change diagonal
    before, _ = off(triangles)
    after, flipped = off(split)
    assert (before > 1.0).mean() > 0.05  # the file's own split is not Blender's
    assert after.max() < 0.05 and not flipped.any()
    assert all(set(split[2 * k:2 * k + 2].ravel().tolist()) == set(quad.tolist()) for k, quad in enumerate(quads))


def _diagonal(pair: np.ndarray) -> set[int]:
    return set(pair[0].tolist()) & set(pair[1].tolist())


def test_a_tie_in_uv_goes_to_the_shorter_diagonal_in_space_else_corners_0_2() -> None:
    square = np.array([[0.0, 0.0], [0.25, 0.0], [0.25, 0.25], [0.0, 0.25]])
    positions = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.2, 1.0, 0.0], [0.0, 1.0, 0.0]])  # 1-3 shorter
    along_02, along_13 = np.array([[0, 1, 2], [0, 2, 3]]), np.array([[0, 1, 3], [1, 2, 3]])
    assert _diagonal(mikktspace_split(positions, along_02, square, 1)) == {1, 3}
    positions[2] = [1.0, 1.0, 0.0]  # a tie in space too: 0-2
    assert _diagonal(mikktspace_split(positions, along_13, square, 1)) == {0, 2}
    kite = square.copy()
    kite[2] = [0.2, 0.2]  # 0-2 shorter in UV, whatever the positions say
    positions[2] = [3.0, 3.0, 0.0]
    assert _diagonal(mikktspace_split(positions, along_13, kite, 1)) == {0, 2}


def _cut_sheet() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """A 4 x 4 grid of quads unwrapped flat, then cut along the diagonal of quad 5 into two charts,
    as xatlas sometimes cuts: (vertices, faces after the cut, UVs, faces before, quads)."""
    positions, quads, _ = _quad_grid(4, seed=1)
    positions[:, 2] = 0.0
    source = triangulate_quads(positions, quads)
    faces = source.copy()
    chart_two = np.zeros(len(faces), bool)
    chart_two[11:] = True  # triangle 11 (quad 5's second) and everything after it
    vertices, uvs = positions.copy(), positions[:, :2] / 10.0
    used_by_two = np.unique(faces[chart_two])
    copies = {int(v): len(vertices) + i for i, v in enumerate(used_by_two)}
    vertices = np.concatenate([vertices, positions[used_by_two]])
    uvs = np.concatenate([uvs, positions[used_by_two, :2] / 10.0 + [0.5, 0.0]])  # the second chart, aside
    faces[chart_two] = np.vectorize(copies.get)(faces[chart_two])
    return vertices, faces, uvs, source, len(quads)


def test_a_quad_the_unwrap_cut_along_its_diagonal_is_made_whole_in_one_chart() -> None:
    vertices, faces, uvs, source, quads = _cut_sheet()
    assert split_quads(faces, quads).size > 0
    vertices, faces, uvs, done = keep_quads_in_one_chart(vertices, faces, uvs, source, quads)

    assert split_quads(faces, quads).size == 0 and done.split == 0 and done.moved >= 1
    charts = charts_of(faces, len(vertices))
    assert (charts[0:2 * quads:2] == charts[1:2 * quads:2]).all()
    # the moved triangle's UVs are its shape in space, at its chart's scale and orientation
    for k in range(quads):
        uv_area = np.cross(*(uvs[faces[2 * k + 1]][1:] - uvs[faces[2 * k + 1]][0]))
        area = np.cross(*(vertices[faces[2 * k + 1]][1:, :2] - vertices[faces[2 * k + 1]][0, :2]))
        assert np.isclose(uv_area, area / 100.0, rtol=1e-6)


def test_a_quad_with_no_room_beside_its_partner_becomes_a_chart_of_its_own() -> None:
    vertices, faces, uvs, source, quads = _cut_sheet()
    k = int(split_quads(faces, quads)[0])
    # Where either triangle would be unfolded, its partner's chart already has a triangle: each
    # chart gets one more triangle, a copy of the other's, at the place the unfolding takes.
    for anchor, mover in ((2 * k, 2 * k + 1), (2 * k + 1, 2 * k)):
        shared = [i for i in range(3) if source[anchor, i] in source[mover]]
        mirror = uvs[faces[anchor]].copy()
        own = [i for i in range(3) if i not in shared][0]
        p, q = mirror[shared[0]], mirror[shared[1]]
        axis = (q - p) / np.linalg.norm(q - p)
        offset = mirror[own] - p
        mirror[own] = p + 2 * np.dot(offset, axis) * axis - offset  # the anchor mirrored across the diagonal
        start = len(uvs)
        vertices = np.concatenate([vertices, vertices[faces[anchor]]])
        uvs = np.concatenate([uvs, mirror])
        # on the anchor's diagonal vertices (so in its chart), its own corner a new vertex
        blocker = [faces[anchor][shared[0]], start + own, faces[anchor][shared[1]]]
        faces = np.concatenate([faces, [blocker]])
    vertices, faces, uvs, done = keep_quads_in_one_chart(vertices, faces, uvs, source, quads)

    assert done.alone == 1 and done.split == 0 and split_quads(faces, quads).size == 0
    charts = charts_of(faces, len(vertices))
    assert charts[2 * k] == charts[2 * k + 1] and (charts == charts[2 * k]).sum() == 2


def test_a_finished_quad_mesh_bakes_whole_quads_split_as_mikktspace_splits_them(unwrapper: Unwrapper) -> None:
    high = trimesh.creation.icosphere(subdivisions=4)
    positions, quads, _ = _quad_grid(10)
    triangles = triangulate_quads(positions, quads)
    baked = bake(high, positions / 10.0, triangles, BakeSettings(size=128, padding=2), unwrapper=unwrapper,
                 quads=len(quads))

    assert split_quads(baked.faces, len(quads)).size == 0
    again = mikktspace_split(baked.vertices, baked.faces, baked.uvs, len(quads))
    assert all(_diagonal(again[2 * k:2 * k + 2]) == _diagonal(baked.faces[2 * k:2 * k + 2]) for k in range(len(quads)))
    def corners(points: np.ndarray, faces: np.ndarray, k: int) -> set[tuple]:
        return {tuple(p) for p in np.round(points[faces[2 * k:2 * k + 2].ravel()], 6).tolist()}

    # each pair still covers its own quad, in the file's order
    assert all(corners(baked.vertices, baked.faces, k) == corners(positions / 10.0, triangles, k) for k in range(len(quads)))
