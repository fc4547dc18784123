"""MikkTSpace tangents: the per-corner tangent basis Blender and glTF decode normal maps in.

A port to numpy of Morten S. Mikkelsen's reference implementation, mikktspace.c
(https://github.com/mmikk/MikkTSpace, zlib licence: "Permission is granted to anyone to use this
software for any purpose, including commercial applications, and to alter it and redistribute it
freely", provided its origin is not misrepresented and altered versions are marked as such: this is an
altered version, a port, not the original). Blender's ``Mesh.calc_tangents`` runs the same algorithm
(intern/mikktspace), so a normal map baked against these tangents shows no seams there or in a glTF
viewer. What is ported, for triangles (the only faces here), with the default angular threshold of
180 degrees (``genTangSpaceDefault``):

- the welded index: corners with identical position, normal and UV are one vertex
  (``GenerateSharedVerticesIndexList``);
- triangles with two coincident positions are degenerate: they take no part in the grouping and
  their corners copy the tangent space of a good corner of the same welded vertex (``DegenEpilogue``);
- per triangle, the unnormalised tangent and bitangent from the UV derivatives (eq. 18, 19), their
  sign from the UV area, and the "group with any" flag of triangles whose UV area or derivatives are
  zero (``InitTriInfo``);
- neighbours across edges traversed in opposite directions, the first unmatched pair in sorted order
  (``BuildNeighborsFast``);
- the groups: around each welded vertex, the fan of triangles reached through shared edges with the
  same UV orientation; a "group with any" triangle joins the first group that reaches it and takes its
  orientation (``Build4RuleGroups``, ``AssignRecur``, including its order dependence);
- per group, the angle-weighted sum of the triangles' tangents projected on the vertex normal's plane
  (``EvalTspace``). At 180 degrees every triangle of a group falls in one subgroup (``fCosS > -1``
  holds unless two tangents are exactly opposite), so subgroups are not split here.

The output per corner is the tangent (x, y, z) and the bitangent sign w (+1 where the UV mapping
preserves orientation), as ``m_setTSpaceBasic`` gives them: bitangent = w * cross(normal, tangent).
"""

from __future__ import annotations

import numpy as np

_TINY = 1e-20  # mikktspace.c's NotZero: |x| > FLT_MIN


def _not_zero(x: np.ndarray) -> np.ndarray:
    return np.abs(x) > _TINY


def _normalized_where(v: np.ndarray) -> np.ndarray:
    """mikktspace's ``if (VNotZero(v)) v = Normalize(v)``: zero vectors stay zero."""
    length = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(_not_zero(length), v / np.where(_not_zero(length), length, 1.0), v)


def _project(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    return _normalized_where(v - np.sum(n * v, axis=-1, keepdims=True) * n)


def _welded_index(positions: np.ndarray, normals: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """Per corner, the first corner with the same position, normal and UV (exact equality)."""
    keys = np.concatenate([positions, normals, uvs], axis=1).astype(np.float32)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def _neighbours(tri: np.ndarray) -> np.ndarray:
    """``FaceNeighbors[f, i]``: the triangle across edge i (corner i to i + 1), or -1."""
    count = len(tri)
    start = tri.reshape(-1)
    end = tri[:, [1, 2, 0]].reshape(-1)
    lo, hi = np.minimum(start, end), np.maximum(start, end)
    order = np.lexsort((np.arange(len(lo)), hi, lo))
    neighbours = np.full(count * 3, -1, dtype=np.int64)
    lo_s, hi_s, start_s = lo[order], hi[order], start[order]
    # runs of one undirected edge: pair each edge with the first unmatched edge of the run that
    # traverses it the other way (BuildNeighborsFast's scan, in its sort order)
    starts = np.flatnonzero(np.r_[True, (np.diff(lo_s) != 0) | (np.diff(hi_s) != 0)])
    lengths = np.diff(np.r_[starts, len(order)])
    pairs = starts[lengths == 2]
    opposite = pairs[start_s[pairs] != start_s[pairs + 1]]  # same direction: inconsistent winding, no pair
    a, b = order[opposite], order[opposite + 1]
    neighbours[a], neighbours[b] = b // 3, a // 3
    for first, length in zip(starts[lengths > 2].tolist(), lengths[lengths > 2].tolist()):
        run = range(first, first + length)  # a non-manifold edge: the reference's first-match rule
        for j, x in enumerate(run):
            a_edge = order[x]
            if neighbours[a_edge] >= 0:
                continue
            for y in run[j + 1:]:
                b_edge = order[y]
                if neighbours[b_edge] < 0 and start_s[y] != start_s[x]:
                    neighbours[a_edge], neighbours[b_edge] = b_edge // 3, a_edge // 3
                    break
    return neighbours.reshape(count, 3)


def _triangle_frames(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per triangle: unit tangent and bitangent (signed), orientation, and the "group with any" flag."""
    t21 = t[:, 1] - t[:, 0]
    t31 = t[:, 2] - t[:, 0]
    d1 = p[:, 1] - p[:, 0]
    d2 = p[:, 2] - p[:, 0]
    area = t21[:, 0] * t31[:, 1] - t21[:, 1] * t31[:, 0]
    v_os = t31[:, 1:2] * d1 - t21[:, 1:2] * d2  # eq. 18
    v_ot = -t31[:, 0:1] * d1 + t21[:, 0:1] * d2  # eq. 19
    preserving = area > 0
    sign = np.where(preserving, 1.0, -1.0)[:, None]
    len_os = np.linalg.norm(v_os, axis=1, keepdims=True)
    len_ot = np.linalg.norm(v_ot, axis=1, keepdims=True)
    good_area = _not_zero(area)[:, None]
    tangent = np.where(good_area & _not_zero(len_os), sign * v_os / np.where(len_os > 0, len_os, 1), 0.0)
    bitangent = np.where(good_area & _not_zero(len_ot), sign * v_ot / np.where(len_ot > 0, len_ot, 1), 0.0)
    abs_area = np.where(good_area[:, 0], np.abs(area), 1.0)
    mag_s, mag_t = len_os[:, 0] / abs_area, len_ot[:, 0] / abs_area
    good = good_area[:, 0] & _not_zero(mag_s) & _not_zero(mag_t)
    return tangent, bitangent, preserving, ~good


def _groups(tri: np.ndarray, neighbours: np.ndarray, preserving: np.ndarray,
            with_any: np.ndarray) -> tuple[np.ndarray, list[bool]]:
    """Build4RuleGroups: the group of every corner (-1: none) and each group's orientation."""
    group = np.full(tri.shape, -1, dtype=np.int64)
    orientation: list[bool] = []
    preserving = preserving.copy()
    tri_l, nb_l, any_l = tri.tolist(), neighbours.tolist(), with_any.tolist()
    for f in range(len(tri_l)):
        if any_l[f]:
            continue
        for i in range(3):
            if group[f, i] >= 0:
                continue
            g = len(orientation)
            orient = bool(preserving[f])
            orientation.append(orient)
            vertex = tri_l[f][i]
            group[f, i] = g
            stack = [nb_l[f][(i + 2) % 3], nb_l[f][i]]  # popped in the reference's order: L, then R
            while stack:
                t = stack.pop()
                if t < 0:
                    continue
                j = tri_l[t].index(vertex)
                if group[t, j] >= 0:
                    continue
                if any_l[t] and (group[t] < 0).all():
                    preserving[t] = orient  # AssignRecur: the first group decides its orientation
                if bool(preserving[t]) != orient:
                    continue
                group[t, j] = g
                stack.extend((nb_l[t][(j + 2) % 3], nb_l[t][j]))
    return group, orientation


def mikktspace_tangents(positions: np.ndarray, normals: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """Per corner of each triangle, the MikkTSpace tangent and sign: (F, 3, 4) float64.

    ``positions`` (F, 3, 3), ``normals`` (F, 3, 3, unit) and ``uvs`` (F, 3, 2) are given per corner,
    as mikktspace's callbacks give them (UVs with v up, Blender's and trimesh's convention).
    """
    positions = np.asarray(positions, dtype=np.float64)
    normals = np.asarray(normals, dtype=np.float64)
    uvs = np.asarray(uvs, dtype=np.float64)
    count = len(positions)
    corner_p, corner_n, corner_t = positions.reshape(-1, 3), normals.reshape(-1, 3), uvs.reshape(-1, 2)
    welded = _welded_index(corner_p, corner_n, corner_t).reshape(count, 3)
    wp = corner_p[welded]
    degenerate = (np.all(wp[:, 0] == wp[:, 1], axis=1) | np.all(wp[:, 0] == wp[:, 2], axis=1)
                  | np.all(wp[:, 1] == wp[:, 2], axis=1))
    good_index = np.flatnonzero(~degenerate)
    tri = welded[good_index]
    p, n, t = corner_p[tri], corner_n[tri], corner_t[tri]
    tangent, bitangent, preserving, with_any = _triangle_frames(p, t)
    group, orientation = _groups(tri, _neighbours(tri), preserving, with_any)

    # EvalTspace: angle-weighted sum over the good triangles of each group
    result = np.zeros((count, 3, 4))
    result[..., 0] = 1.0  # the reference's initial space, (1, 0, 0), kept by corners no group reached
    result[..., 3] = -1.0  # its memset leaves bOrient false there
    if orientation:
        member = (group >= 0) & ~with_any[:, None]
        f_idx, c_idx = np.nonzero(member)
        nn = n[f_idx, c_idx]
        v_os = _project(tangent[f_idx], nn)
        prev_p = p[f_idx, (c_idx + 2) % 3]
        next_p = p[f_idx, (c_idx + 1) % 3]
        here = p[f_idx, c_idx]
        e1, e2 = _project(prev_p - here, nn), _project(next_p - here, nn)
        angle = np.arccos(np.clip(np.sum(e1 * e2, axis=1), -1.0, 1.0))
        summed = np.zeros((len(orientation), 3))
        np.add.at(summed, group[f_idx, c_idx], angle[:, None] * v_os)
        summed = _normalized_where(summed)
        has = group >= 0
        g_f, g_c = np.nonzero(has)
        out = result[good_index]
        out[g_f, g_c, :3] = summed[group[g_f, g_c]]
        out[g_f, g_c, 3] = np.where(np.asarray(orientation)[group[g_f, g_c]], 1.0, -1.0)
        result[good_index] = out
        # DegenEpilogue: a degenerate triangle's corner copies a good corner of its welded vertex
        if degenerate.any():
            flat_good = result[good_index].reshape(-1, 4)
            keys = welded[good_index].reshape(-1)
            lookup: dict[int, int] = {}
            for k, key in enumerate(keys.tolist()):
                lookup.setdefault(key, k)
            for f in np.flatnonzero(degenerate).tolist():
                for i in range(3):
                    k = lookup.get(int(welded[f, i]))
                    if k is not None:
                        result[f, i] = flat_good[k]
    return result


def mesh_corner_tangents(vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray,
                         uvs: np.ndarray) -> np.ndarray:
    """MikkTSpace tangents of an indexed mesh, per corner: (F, 3, 4).

    Corners of one vertex agree unless the vertex joins two groups (a bow-tie, or UV orientation
    flipping around it); ``split_by_corner_tangents`` makes such vertices separate ones.
    """
    return mikktspace_tangents(vertices[faces], normals[faces], uvs[faces])


def split_by_corner_tangents(faces: np.ndarray, corner_tangents: np.ndarray,
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One tangent per vertex, as glTF stores them: vertices whose corners disagree are split.

    Returns (source vertex per new vertex, new faces, tangent per new vertex). New vertices are in
    the order of their sources, so a mesh with nothing to split (and no unused vertex) keeps its
    indices.
    """
    flat_vertex = faces.reshape(-1)
    flat_tangent = corner_tangents.reshape(-1, 4)
    # corners of one group hold bit-identical tangents; rounding only keeps float noise from splitting
    keys = np.concatenate([flat_vertex[:, None].astype(np.float64), np.round(flat_tangent, 5)], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return flat_vertex[first], inverse.reshape(faces.shape), flat_tangent[first]
