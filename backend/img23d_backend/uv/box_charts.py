"""Charts by box projection, as SF3D's unwrapper makes them: each face goes to the axis of a cube its
normal faces most, neighbours vote so that a noisy surface does not shatter into slivers, each connected
run of faces on one axis is a chart, and a chart is its faces seen along its axis.

A face seen along an axis it faces by a cosine c keeps c of its area: over 0.577 (the cube's corner) for
the axis its normal chose, over ``STEEPEST`` for one its neighbours chose for it. A projection in which
every face faces the axis has no flipped triangle, but a chart can still lie over itself (a surface that
curls back above its own start, seen from above): ``chart_cuts`` cuts such charts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

AXES = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=np.float64)
# Each axis's UV directions: (first, second) with first x second = the axis, so no chart is mirrored.
_FIRST = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=np.float64)
_SECOND = np.cross(AXES, _FIRST)
VOTE_ROUNDS = 4  # rounds of the neighbours' vote
NEIGHBOUR_WEIGHT = 0.3  # a neighbour's vote beside a face's own cosine (three neighbours: up to 0.9)
STEEPEST = 0.4  # the least cosine at which a face may take an axis its neighbours chose
SMALL_CHART = 0.002  # charts under this share of the surface join a neighbour where every face allows it
MERGE_ROUNDS = 3


@dataclass(frozen=True)
class BoxCharts:
    """Each face's chart (0, 1, ...) and the axis (an index into ``AXES``) it is seen along."""

    chart: np.ndarray
    axis: np.ndarray

    @property
    def count(self) -> int:
        return int(self.chart.max()) + 1 if len(self.chart) else 0


def face_pairs(faces: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces sharing an edge, as two index arrays (an edge of three or more faces gives a chain of pairs)."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    key = edges[:, 0].astype(np.int64) * max(vertex_count, 1) + edges[:, 1]
    order = np.argsort(key, kind="stable")
    same = np.flatnonzero(key[order][1:] == key[order][:-1])
    return owner[order][same], owner[order][same + 1]


def box_charts(vertices: np.ndarray, faces: np.ndarray, first: np.ndarray, second: np.ndarray) -> BoxCharts:
    """The faces' charts and axes: chosen, voted on, small charts merged. ``first``, ``second``: ``face_pairs``."""
    corners = vertices[faces]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    area = np.linalg.norm(normal, axis=1) / 2
    normal /= np.maximum(2 * area, 1e-300)[:, None]
    facing = normal @ AXES.T
    facing[area <= 0] = 1.0  # a face with no area has no direction: it may take any axis
    axis = _voted(facing, first, second)
    chart = _runs(axis, first, second, len(faces))
    for _ in range(MERGE_ROUNDS):
        axis, merged = _merge_small(axis, chart, facing, area, first, second)
        if not merged:
            break
        chart = _runs(axis, first, second, len(faces))
    return BoxCharts(chart, axis)


def _voted(facing: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Each face's axis: its own best, then rounds of its cosine plus its neighbours' votes."""
    axis = facing.argmax(axis=1)
    allowed = facing >= STEEPEST
    allowed[np.arange(len(axis)), axis] = True
    for _ in range(VOTE_ROUNDS):
        votes = np.zeros_like(facing)
        np.add.at(votes, (first, axis[second]), 1.0)
        np.add.at(votes, (second, axis[first]), 1.0)
        axis = np.where(allowed, facing + NEIGHBOUR_WEIGHT * votes, -np.inf).argmax(axis=1)
    return axis


def _runs(axis: np.ndarray, first: np.ndarray, second: np.ndarray, count: int) -> np.ndarray:
    """Charts: faces joined by edges whose two faces share an axis."""
    keep = axis[first] == axis[second]
    graph = coo_matrix((np.ones(int(keep.sum())), (first[keep], second[keep])), shape=(count, count))
    return connected_components(graph, directed=False)[1]


def _merge_small(axis: np.ndarray, chart: np.ndarray, facing: np.ndarray, area: np.ndarray,
                 first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, bool]:
    """Small charts take the axis of the neighbour they share most edges with, where each of their faces
    faces that axis by ``STEEPEST`` at least. Returns the axes and whether any chart moved."""
    charts = int(chart.max()) + 1
    size = np.bincount(chart, weights=area, minlength=charts)
    small = size < SMALL_CHART * max(float(area.sum()), 1e-300)
    across = chart[first] != chart[second]
    a, b = chart[first][across], chart[second][across]
    a, b = np.concatenate([a, b]), np.concatenate([b, a])  # (small chart, its neighbour), both ways
    keep = small[a]
    if not keep.any():
        return axis, False
    pair, shared = np.unique(np.stack([a[keep], b[keep]], axis=1), axis=0, return_counts=True)
    # The neighbour with most shared edges; among equals the larger.
    order = np.lexsort((-size[pair[:, 1]], -shared, pair[:, 0]))
    pair = pair[order]
    best = pair[np.r_[True, pair[1:, 0] != pair[:-1, 0]]]
    target_axis = np.full(charts, -1)
    chart_axis = np.zeros(charts, dtype=np.int64)
    chart_axis[chart] = axis
    target_axis[best[:, 0]] = chart_axis[best[:, 1]]
    # A small chart whose best neighbour is small too moves only towards the larger of the two.
    target_axis[best[:, 0][size[best[:, 1]] < size[best[:, 0]]]] = -1
    wanted = target_axis[chart]
    facing_wanted = facing[np.arange(len(axis)), np.maximum(wanted, 0)]
    worst = np.full(charts, np.inf)
    np.minimum.at(worst, chart, np.where(wanted >= 0, facing_wanted, -np.inf))
    moving = (target_axis >= 0) & (worst >= STEEPEST) & (target_axis != chart_axis)
    if not moving.any():
        return axis, False
    moved = moving[chart]
    return np.where(moved, wanted, axis), True


def face_uv(vertices: np.ndarray, faces: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(faces, 3, 2): each face's corners seen along its axis (``axis``: one per face)."""
    corners = vertices[faces]
    return np.stack([(corners * _FIRST[axis][:, None]).sum(axis=2), (corners * _SECOND[axis][:, None]).sum(axis=2)],
                    axis=2)


def projected(vertices: np.ndarray, faces: np.ndarray, charts: BoxCharts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The layout before packing: (the new vertices' source indices, faces over them, each new vertex's UV along
    its chart's axis, in the mesh's units). A vertex on several charts is split, one copy per chart."""
    key = faces.astype(np.int64).ravel() * charts.count + np.repeat(charts.chart, 3)
    unique, inverse = np.unique(key, return_inverse=True)
    source = unique // charts.count
    vertex_axis = np.zeros(len(unique), dtype=np.int64)
    vertex_axis[inverse] = np.repeat(charts.axis, 3)
    points = vertices[source]
    uv = np.stack([(points * _FIRST[vertex_axis]).sum(axis=1), (points * _SECOND[vertex_axis]).sum(axis=1)], axis=1)
    return source, inverse.reshape(-1, 3), uv
