"""Charts cut where they would overlap themselves or pack badly, before they are packed.

A chart seen along one axis can lie over itself (a surface that curls back above its own start, seen
from above): ``untangled`` cuts such a chart between two faces that overlap (each face goes to the
nearer of the two, in steps through the chart) until no chart overlaps itself (``uv_layout``'s test).

The packer (``chart_packing``) lays charts on a skyline and never under another's overhang: a chart
longer than 0.4 of the atlas's side (a blade, a wire), or a ring whose middle is empty (a tube seen end
on), would leave most of the atlas unused. ``unwieldy_cut`` cuts such a chart across its length, in
halves, until none is left (``CUT_ROUNDS`` at most). A part of a chart that did not overlap itself
cannot, so no cut brings an overlap back.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from .uv_layout import overlapping_pairs

UNTANGLE_ROUNDS = 16  # rounds of cuts, at the most (real meshes take one or two); then each face left
# overlapping is its own chart
LONGEST = 0.4  # a chart longer than this share of the atlas's expected side is cut across
EMPTIEST = 0.5  # a chart whose own area fills less of its box than this ...
ROOMY = 0.01  # ... and whose box takes more of the atlas than this is cut across too
CUT_ROUNDS = 6


def untangled(corners: np.ndarray, chart: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Each face's chart once no chart overlaps itself. ``corners``: (faces, 3, 2), each face seen along its
    chart's axis; ``first``, ``second``: the faces that share an edge."""
    chart = chart.copy()
    suspects = np.unique(chart)
    for _ in range(UNTANGLE_ROUNDS):
        pairs = _self_overlaps(corners, chart, suspects)
        if not len(pairs):
            break
        # One pair per tangled chart; each such chart is cut once this round.
        pairs = pairs[np.unique(chart[pairs[:, 0]], return_index=True)[1]]
        pieces = [_cut_between(chart, one, other, first, second) for one, other in pairs]
        suspects = np.unique(np.concatenate(pieces))
    else:  # a last resort: a single triangle never overlaps itself
        for face in np.unique(_self_overlaps(corners, chart, np.unique(chart))):
            chart[face] = chart.max() + 1
    return np.unique(chart, return_inverse=True)[1].reshape(-1)


def _cut_between(chart: np.ndarray, one: int, other: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cut the chart of faces ``one`` and ``other`` in place: faces nearer ``other`` (in steps through the
    chart) leave it, and each connected piece becomes a chart. Returns the pieces' charts."""
    members = np.flatnonzero(chart == chart[one])
    local = np.full(len(chart), -1)
    local[members] = np.arange(len(members))
    inside = (local[first] >= 0) & (local[second] >= 0)
    a, b = local[first[inside]], local[second[inside]]
    steps = dijkstra(coo_matrix((np.ones(len(a)), (a, b)), shape=(len(members),) * 2), directed=False,
                     indices=[local[one], local[other]], unweighted=True)
    side = (steps[1] < steps[0]).astype(np.int64)
    kept = side[a] == side[b]
    piece = connected_components(coo_matrix((np.ones(int(kept.sum())), (a[kept], b[kept])),
                                            shape=(len(members),) * 2), directed=False)[1]
    fresh = int(chart.max()) + 1
    chart[members] = np.where(piece == piece[local[one]], chart[one], fresh + piece)
    return np.unique(chart[members])


def _self_overlaps(corners: np.ndarray, chart: np.ndarray, suspects: np.ndarray) -> np.ndarray:
    """Face pairs of one chart (among ``suspects``) whose triangles overlap."""
    chosen = np.flatnonzero(np.isin(chart, suspects))
    if len(chosen) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    uv = corners[chosen].reshape(-1, 2)
    return chosen[overlapping_pairs(uv, np.arange(len(uv)).reshape(-1, 3), within=chart[chosen])]


def unwieldy_cut(corners: np.ndarray, chart: np.ndarray, first: np.ndarray, second: np.ndarray,
                 fill: float) -> np.ndarray:
    """Each face's chart once no chart is longer than ``LONGEST`` of the atlas's side, nor an empty ring
    (``EMPTIEST``, ``ROOMY``); ``fill``: the share of the atlas the charts are expected to cover."""
    area = np.abs(_areas(corners))
    side_squared = max(float(area.sum()) / fill, 1e-300)
    for _ in range(CUT_ROUNDS):
        charts = int(chart.max()) + 1
        length, width, along = _box(corners, area, chart, charts)
        box = length * width
        own = np.bincount(chart, weights=area, minlength=charts)
        count = np.bincount(chart, minlength=charts)
        unwieldy = (count > 1) & ((length ** 2 > LONGEST ** 2 * side_squared)
                                  | ((own < EMPTIEST * box) & (box > ROOMY * side_squared)))
        if not unwieldy.any():
            break
        low, high = _extent(along, chart, charts)
        half = unwieldy[chart] & (along.mean(axis=1) > ((low + high) / 2)[chart])
        label = chart * 2 + half
        kept = label[first] == label[second]
        graph = coo_matrix((np.ones(int(kept.sum())), (first[kept], second[kept])), shape=(len(chart),) * 2)
        chart = connected_components(graph, directed=False)[1]
    return chart


def _box(corners: np.ndarray, area: np.ndarray, chart: np.ndarray,
         charts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per chart, the longer and shorter side of its box, and each face's corners along the longer side
    (faces, 3). The box is the smaller of two: along the chart's principal axes, or along u and v (a square's
    two triangles make its diagonal look like its principal axis)."""
    along, across = _principal(corners, area, chart, charts)
    boxes = []
    for first_axis, second_axis in ((along, across), (corners[:, :, 0], corners[:, :, 1])):
        low, high = _extent(first_axis, chart, charts)
        size_first = high - low
        low, high = _extent(second_axis, chart, charts)
        size_second = high - low
        longer_first = size_first >= size_second
        boxes.append((np.maximum(size_first, size_second), np.minimum(size_first, size_second),
                      np.where(longer_first[chart][:, None], first_axis, second_axis)))
    (length, width, values), (flat_length, flat_width, flat_values) = boxes
    flat = flat_length * flat_width <= length * width * 1.02
    return (np.where(flat, flat_length, length), np.where(flat, flat_width, width),
            np.where(flat[chart][:, None], flat_values, values))


def _areas(corners: np.ndarray) -> np.ndarray:
    first, second = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return 0.5 * (first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0])


def _principal(corners: np.ndarray, area: np.ndarray, chart: np.ndarray, charts: int) -> tuple[np.ndarray, np.ndarray]:
    """Each face's corners along its chart's major axis and across it (faces, 3 each): the axes of the
    spread of the chart's face centres, weighted by area."""
    centre = corners.mean(axis=1)
    weight = np.bincount(chart, weights=area, minlength=charts)
    weight = np.where(weight > 0, weight, 1.0)
    mean = np.stack([np.bincount(chart, area * centre[:, k], charts) for k in range(2)], axis=1) / weight[:, None]
    offset = centre - mean[chart]
    xx = np.bincount(chart, area * offset[:, 0] ** 2, charts)
    yy = np.bincount(chart, area * offset[:, 1] ** 2, charts)
    xy = np.bincount(chart, area * offset[:, 0] * offset[:, 1], charts)
    angle = 0.5 * np.arctan2(2 * xy, xx - yy)[chart]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return cos * corners[:, :, 0] + sin * corners[:, :, 1], -sin * corners[:, :, 0] + cos * corners[:, :, 1]


def _extent(values: np.ndarray, chart: np.ndarray, charts: int) -> tuple[np.ndarray, np.ndarray]:
    """Per chart, the least and greatest of its faces' ``values`` (faces, 3)."""
    low, high = np.full(charts, np.inf), np.full(charts, -np.inf)
    np.minimum.at(low, chart, np.minimum(np.minimum(values[:, 0], values[:, 1]), values[:, 2]))
    np.maximum.at(high, chart, np.maximum(np.maximum(values[:, 0], values[:, 1]), values[:, 2]))
    return low, high
