"""Colours for the texels no view painted, chart by chart, and for the gutter between charts.

Written for img23d from textbook methods (no other filler's code was read or followed):

* A UV chart is a set of faces joined by shared UV vertices (a connected component of the face
  graph in texture space). Inside each chart the unpainted texels are filled by pull-push
  (Gortler, Grzeszczuk, Szeliski and Cohen, "The Lumigraph", SIGGRAPH 1996, section 3.4.2: pull
  averages known samples into ever coarser levels with weights clamped to 1, push blends each
  level with the one above where its weight is short of 1), run on the chart's bounding box with
  every texel outside the chart weighted 0: colour never crosses from one chart to another, and
  painted texels keep theirs (weight 1 takes nothing from above).
* A chart no view painted at all takes the mean colour of the charts it touches on the surface
  (they share a vertex position across a seam), ring by ring outwards; where no chart around it
  was painted, the mean of everything painted.
* Gutter texels (no chart covers them) take the colour of the nearest covered texel (Euclidean
  distance transform), so bilinear filtering and mip-maps at a chart's border average the chart's
  own colours rather than the empty background ("edge padding" / dilation, as bakers do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

OUTSIDE = -1        # texel_chart of a gutter texel


@dataclass(frozen=True)
class Charts:
    """Which chart each face and each texel belongs to, and which charts touch on the surface."""

    face_chart: np.ndarray      # [F] int64
    texel_chart: np.ndarray     # [H, W] int64, OUTSIDE where no UV triangle covers the texel
    touching: list[np.ndarray]  # per chart, the charts sharing a vertex position with it

    @property
    def count(self) -> int:
        return len(self.touching)


def face_charts(faces: np.ndarray, vertices: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each face's chart (faces joined through shared UV vertices: one UV per vertex, so a shared
    vertex index is a shared UV) and, per chart, the charts it touches across a seam."""
    faces = np.asarray(faces, dtype=np.int64)
    count = len(vertices)
    a, b = faces.ravel(), np.roll(faces, -1, axis=1).ravel()
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(count, count))
    _, vertex_label = connected_components(graph, directed=False)
    face_label = vertex_label[faces[:, 0]]
    # Only charts with faces count (an unused vertex is a component of its own).
    used, face_chart = np.unique(face_label, return_inverse=True)
    chart_of_vertex = np.full(count, -1, dtype=np.int64)
    chart_of_vertex[faces.ravel()] = np.repeat(face_chart, 3)
    # Seams split a vertex into copies at the same position, one per chart around it.
    _, position = trimesh.grouping.unique_rows(np.asarray(vertices, dtype=np.float64),
                                               digits=trimesh.util.decimal_to_digits(trimesh.tol.merge))
    on = chart_of_vertex >= 0
    incidence = coo_matrix((np.ones(int(on.sum())), (chart_of_vertex[on], position[on])),
                           shape=(len(used), int(position.max()) + 1)).tocsr()
    adjacency = (incidence @ incidence.T).tocsr()
    touching = [np.setdiff1d(adjacency.indices[adjacency.indptr[i]:adjacency.indptr[i + 1]], [i])
                for i in range(len(used))]
    return face_chart.astype(np.int64), touching


def fill_atlas(texture: np.ndarray, painted: np.ndarray, charts: Charts) -> np.ndarray:
    """``texture`` (float [H, W, 3] in [0, 1]) with every unpainted texel coloured: uint8 [H, W, 3]."""
    colour = np.clip(np.asarray(texture, dtype=np.float64), 0.0, 1.0).copy()
    painted = np.asarray(painted, dtype=bool)
    texel_chart = charts.texel_chart
    known = painted & (texel_chart != OUTSIDE)
    unpainted = _fill_charts(colour, known, texel_chart, charts.count)
    _fill_unpainted_charts(colour, known, texel_chart, charts, unpainted)
    _pad_gutter(colour, texel_chart)
    return (colour * 255.0 + 0.5).astype(np.uint8)


def pull_push(colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Every texel of ``colour`` [h, w, 3] coloured from those with ``weight`` [h, w] (in [0, 1]),
    by pull-push with a 2 x 2 box for pull and bilinear interpolation for push. Needs some weight."""
    levels = [(colour * weight[..., None], weight.astype(np.float64))]
    while max(levels[-1][1].shape) > 1:
        premultiplied, known = levels[-1]
        premultiplied, known = _even(premultiplied), _even(known)
        h, w = known.shape[0] // 2, known.shape[1] // 2
        summed = premultiplied.reshape(h, 2, w, 2, 3).sum(axis=(1, 3))
        total = known.reshape(h, 2, w, 2).sum(axis=(1, 3))
        # Gortler's clamp: a parent with a full child's worth of samples counts as fully known.
        scale = np.divide(np.minimum(total, 1.0), total, out=np.zeros_like(total), where=total > 0)
        levels.append((summed * scale[..., None], np.minimum(total, 1.0)))
    above = levels[-1][0] / max(float(levels[-1][1].max()), 1e-12)
    for premultiplied, known in reversed(levels[:-1]):
        h, w = known.shape
        up = _upsample(above)[:h, :w]
        above = premultiplied + (1.0 - known)[..., None] * up
    return above


def _fill_charts(colour: np.ndarray, known: np.ndarray, texel_chart: np.ndarray, count: int) -> list[int]:
    """Pull-push inside each chart with some paint and some holes; the charts with no paint."""
    unpainted = []
    boxes = ndimage.find_objects(texel_chart + 1, max_label=count)
    has_paint = np.bincount(texel_chart[known], minlength=count) > 0
    holes = np.bincount(texel_chart[~known & (texel_chart != OUTSIDE)], minlength=count) > 0
    for chart, box in enumerate(boxes):
        if box is None or not holes[chart]:
            continue
        if not has_paint[chart]:
            unpainted.append(chart)
            continue
        inside = texel_chart[box] == chart
        seeds = known[box] & inside
        filled = pull_push(colour[box], seeds.astype(np.float64))
        fill = inside & ~seeds
        colour[box][fill] = filled[fill]
    return unpainted


def _fill_unpainted_charts(colour: np.ndarray, known: np.ndarray, texel_chart: np.ndarray, charts: Charts,
                           unpainted: list[int]) -> None:
    """Charts no view painted: the mean of the painted charts they touch, ring by ring outwards."""
    if not unpainted:
        return
    sums = np.stack([np.bincount(texel_chart[known], weights=colour[..., i][known], minlength=charts.count)
                     for i in range(3)], axis=1)
    counts = np.bincount(texel_chart[known], minlength=charts.count).astype(np.float64)
    mean = np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
    settled = counts > 0
    everything = colour[known].mean(axis=0) if known.any() else np.zeros(3)
    waiting = list(unpainted)
    while waiting:
        ring = {c: mean[charts.touching[c][settled[charts.touching[c]]]] for c in waiting}
        reached = [c for c, around in ring.items() if len(around)]
        if not reached:          # nothing painted anywhere around what is left
            for chart in waiting:
                mean[chart], settled[chart] = everything, True
            break
        for chart in reached:    # this ring settles together, so the order of charts does not matter
            mean[chart] = ring[chart].mean(axis=0)
        settled[reached] = True
        waiting = [c for c in waiting if not settled[c]]
    wanted = np.isin(texel_chart, unpainted)
    colour[wanted] = mean[texel_chart[wanted]]


def _pad_gutter(colour: np.ndarray, texel_chart: np.ndarray) -> None:
    """Each gutter texel takes the colour of the nearest texel a chart covers."""
    gutter = texel_chart == OUTSIDE
    if gutter.all() or not gutter.any():
        return
    rows, cols = ndimage.distance_transform_edt(gutter, return_distances=False, return_indices=True)
    colour[gutter] = colour[rows[gutter], cols[gutter]]


def _even(array: np.ndarray) -> np.ndarray:
    """``array`` padded with zeros to an even height and width."""
    pad = [(0, array.shape[0] % 2), (0, array.shape[1] % 2)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad) if any(p[1] for p in pad) else array


def _upsample(image: np.ndarray) -> np.ndarray:
    """``image`` [h, w, 3] to [2h, 2w, 3] by bilinear interpolation with texel centres aligned: each
    child is 3/4 its parent and 1/4 the parent's neighbour on its side, the border repeated."""
    return _double(_double(image, axis=0), axis=1)


def _double(image: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(image, axis, 0)
    padded = np.concatenate([moved[:1], moved, moved[-1:]])
    before = 0.75 * moved + 0.25 * padded[:-2]
    after = 0.75 * moved + 0.25 * padded[2:]
    doubled = np.stack([before, after], axis=1).reshape(2 * len(moved), *moved.shape[1:])
    return np.moveaxis(doubled, 0, axis)
