"""Measures of a UV layout: its charts, where their triangles overlap, and how unevenly they spend the
texture's area.

A layout is one UV per vertex with the vertices split along the seams (``unwrap.Arrays``), so a chart is a
set of faces joined through shared vertex indices. The box unwrap checks its charts with
``overlapping_pairs`` before packing them; ``bench/unwrap_quality.py`` and the tests compare layouts with
these measures and the texels they cover (``finish.bake.uv_raster``).

- **Overlap**: two faces overlap when the interiors of their UV triangles intersect by more than ``DEPTH``
  (in UV units: 0.002 texels of a 2048-texel texture), by the separating-axis test on the triangles'
  edge normals; candidates are the pairs sharing a cell of a grid hash. A face with no UV area has no
  interior and overlaps nothing; neighbours sharing an edge only touch.
- **Stretch**: per face, r = (its share of the UV area) / (its share of the 3D area), taken as
  max(r, 1/r); ``stretch_percentile`` gives a percentile of it over the faces with 3D area.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

DEPTH = 1e-6  # UV units an overlap must reach, beyond float rounding of shared edges
SMALLEST_CELL = 1.0 / 512  # the grid hash's finest cell: a large triangle covers at most 512 x 512 cells


def face_charts(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """Each face's chart: 0, 1, ... over the faces joined through shared vertex indices."""
    faces = np.asarray(faces, dtype=np.int64)
    if not len(faces):
        return np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(faces)), 3)
    graph = coo_matrix((np.ones(len(rows)), (rows, faces.ravel() + len(faces))),
                       shape=(len(faces) + vertex_count,) * 2)
    _, label = connected_components(graph, directed=False)
    return np.unique(label[:len(faces)], return_inverse=True)[1].reshape(-1)


def uv_areas(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Each face's signed UV area (positive counter-clockwise)."""
    corners = np.asarray(uv, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    first, second = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return 0.5 * (first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0])


def overlapping_pairs(uv: np.ndarray, faces: np.ndarray, depth: float = DEPTH,
                      within: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) face index pairs, lower first, whose UV triangles' interiors intersect by more than ``depth``;
    with ``within`` (a group per face), only pairs of one group."""
    uv, faces = np.asarray(uv, dtype=np.float64), np.asarray(faces, dtype=np.int64)
    kept = np.flatnonzero(np.abs(uv_areas(uv, faces)) > 0) if len(faces) else np.zeros(0, dtype=np.int64)
    if len(kept) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    corners = uv[faces[kept]]
    low, high = corners.min(axis=1), corners.max(axis=1)
    group = np.zeros(len(kept), dtype=np.int64) if within is None else np.asarray(within, dtype=np.int64)[kept]
    first, second = _candidates(low, high, group, depth)
    hit = _intersect(corners[first], corners[second], depth)
    pairs = np.stack([kept[first[hit]], kept[second[hit]]], axis=1)
    return np.sort(pairs, axis=1)


def _candidates(low: np.ndarray, high: np.ndarray, group: np.ndarray, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangle pairs (i < j) of one group that share a grid cell and whose bounding boxes overlap by more
    than ``depth``."""
    cell = max(float(np.percentile((high - low).max(axis=1), 90)), SMALLEST_CELL * float((high - low).max()), 1e-12)
    origin = low.min(axis=0)
    first_cell = np.floor((low - origin) / cell).astype(np.int64)
    last_cell = np.floor((high - origin) / cell).astype(np.int64)
    across = last_cell - first_cell + 1
    count = across[:, 0] * across[:, 1]
    triangle = np.repeat(np.arange(len(low)), count)
    step = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    column = first_cell[triangle, 0] + step % across[triangle, 0]
    row = first_cell[triangle, 1] + step // across[triangle, 0]
    columns, rows = int(last_cell[:, 0].max()) + 1, int(last_cell[:, 1].max()) + 1
    key = (group[triangle] * columns + column) * rows + row
    order = np.argsort(key, kind="stable")
    key, triangle = key[order], triangle[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, len(key)])
    firsts, seconds, cell_of = [], [], []
    for size in np.unique(sizes[sizes > 1]):  # cells of equal occupancy at once
        members = triangle[starts[sizes == size][:, None] + np.arange(size)]
        i, j = np.triu_indices(int(size), 1)
        firsts.append(members[:, i].ravel())
        seconds.append(members[:, j].ravel())
        cell_of.append(np.repeat(key[starts[sizes == size]], len(i)))
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    i, j, where = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(cell_of)
    boxes_meet = ((low[i, 0] < high[j, 0] - depth) & (low[i, 1] < high[j, 1] - depth)
                  & (low[j, 0] < high[i, 0] - depth) & (low[j, 1] < high[i, 1] - depth))
    i, j, where = i[boxes_meet], j[boxes_meet], where[boxes_meet]
    # Each pair once: in the cell that holds the lower corner of the two boxes' common part.
    corner = np.floor((np.maximum(low[i], low[j]) - origin) / cell).astype(np.int64)
    once = (group[i] * columns + corner[:, 0]) * rows + corner[:, 1] == where
    return i[once], j[once]


def _intersect(one: np.ndarray, other: np.ndarray, depth: float) -> np.ndarray:
    """Per pair of (n, 3, 2) triangles: no edge normal of either separates them by more than -``depth``.
    (Reductions over the three corners are spelt out: NumPy's reductions over a short axis are slow.)"""
    separation = np.full(len(one), -np.inf)
    for triangles in (one, other):
        for corner in range(3):
            edge = triangles[:, (corner + 1) % 3] - triangles[:, corner]
            length = np.hypot(edge[:, 0], edge[:, 1])
            across, up = -edge[:, 1] / np.maximum(length, 1e-300), edge[:, 0] / np.maximum(length, 1e-300)
            a = [one[:, k, 0] * across + one[:, k, 1] * up for k in range(3)]
            b = [other[:, k, 0] * across + other[:, k, 1] * up for k in range(3)]
            apart = np.maximum(np.minimum(np.minimum(b[0], b[1]), b[2]) - np.maximum(np.maximum(a[0], a[1]), a[2]),
                               np.minimum(np.minimum(a[0], a[1]), a[2]) - np.maximum(np.maximum(b[0], b[1]), b[2]))
            separation = np.maximum(separation, np.where(length > 0, apart, np.inf))
    return separation < -depth


def stretch(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Per face with 3D area: max(r, 1/r), r its share of the UV area over its share of the 3D area."""
    corners = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    surface = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    flat = np.abs(uv_areas(uv, faces))
    kept = surface > 0
    if not kept.any() or flat.sum() <= 0:
        return np.zeros(0)
    ratio = (flat[kept] / flat.sum()) / (surface[kept] / surface.sum())
    return np.maximum(ratio, 1.0 / np.maximum(ratio, 1e-300))


def stretch_percentile(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, percentile: float = 90.0) -> float:
    """A percentile of ``stretch`` (1.0: every face has its share of the texture)."""
    values = stretch(vertices, faces, uv)
    return float(np.percentile(values, percentile)) if len(values) else 1.0
