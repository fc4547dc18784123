"""Whether a remeshed result still is the input's shape: the check a result must pass before it is
called a success, whatever its face count says.

Counting faces and edges (``quad_mesh.check_quads``) cannot see a result that lost half the object
or that cuts across a thin part: issue 54's mesh far from the origin came back as 1,446 triangles of
a shredded surface and was reported done. So the result is also measured against the input, in
the unit frame (``canonical``: distances are shares of the bounding-box diagonal):

* **Coverage**: every input vertex must lie within ``GAP_LIMIT`` of the result's surface. A part
  the remesh dropped (a floater, a handle, the far half of a broken field) leaves input vertices
  far from everything; a thin part that was joined across leaves them about half its width away.
* **Facing**: the result's faces must face the way the input faces where they lie. Where Instant
  Meshes joins the two sides of a part thinner than its quads (a can's rim, a sheet, a label glued
  onto a body), the quads there run across the part, or fold back over it: their normals turn
  away from the input's at their nearest point. More than ``TURNED_LIMIT`` of the result's area
  so turned (by over 90 degrees) is a shredded result.
* **Standing off** (quads only): no part of a quad may lie farther from the input than
  ``STAND_OFF_LIMIT`` of the quads' median side. Every quad vertex sits on the input, but a quad
  can still span a crease or a gap narrower than itself from one wall to the other: on the scanned
  armadillo at 5,000 quads a few quads across a fold stood 0.99 of a side (1.18 % of the diagonal)
  off the surface and passed both checks above, where the benchmark's other quad results stand at
  most 0.62 of a side off (the example house 0.52, the real Hunyuan3D-2 mesh 0.62, the bunny 0.25).

Distances are exact to one triangle of the result, found through a grid of points on it (as
``bench/mesh_distance.py`` measures, with a coarser grid): never short of the truth, so a gap is
never under-counted, and at most ``SPACING`` over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .bake.surface import closest_on_triangles

GAP_LIMIT = 0.05       # an input vertex further than 5 % of the diagonal from the result: a part lost
TURNED_LIMIT = 0.02    # more than 2 % of the result's area facing against the input there: shredded
STAND_OFF_LIMIT = 0.75  # a quad farther off the input than this share of the median quad side: it spans a gap
STAND_OFF_SAMPLES = 0.25  # the quads are sampled at most this share of a side apart for it
CANDIDATES = 4
SPACING = 0.005        # the grid on the result the nearest triangles are found by (a share of the diagonal)
NEAR_SHARE = 0.5       # input triangles this share of a result face's size further than the nearest count as near
CHUNK = 16_384         # points per batch of exact distances (memory stays at a few tens of MB)
SLIVER_RATIO = 2.0     # a triangle whose grid would hold this many times the points of its rows is sampled in rows


@dataclass(frozen=True)
class Coverage:
    """How a result sits on its input, in shares of the input's bounding-box diagonal (or area)."""

    gap: float              # the largest distance from an input vertex to the result
    turned: float           # the share of the result's area facing against the input there
    stand_off: float = 0.0  # the largest distance from a quad to the input, in median quad sides (quads only)

    @property
    def reason(self) -> str | None:
        """The first thing that makes the result not the input's shape, said in a few words; None when it is."""
        if not np.isfinite(self.gap) or self.gap > GAP_LIMIT:
            return f"they left part of the mesh out (a point {100 * self.gap:.0f} % of its size away from them)"
        if self.turned > TURNED_LIMIT:
            return (f"{100 * self.turned:.0f} % of their area ran across thin parts or separate pieces "
                    "(faces turned against the surface)")
        if self.stand_off > STAND_OFF_LIMIT:
            return (f"a quad stood {self.stand_off:.1f} of a quad's side off the surface (it spans a crease or a gap "
                    "narrower than a quad)")
        return None


def grid_points(triangles: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points on each triangle (T, 3, 3), every point of it within ``spacing`` of one: the points, the
    triangle each belongs to, and each point's share of its triangle's area. A barycentric grid whose
    sub-triangles' edges are at most ``spacing`` long; a sliver (a long thin triangle: a CAD wall, a
    decimation's, a rod's side), whose grid grows with the square of its long edge, in rows instead
    (``_row_points``), as many as its area and its length need: a 10-unit rod's 32 triangles took 20
    million grid points at a retopo's spacing, and minutes."""
    sides = np.linalg.norm(triangles - np.roll(triangles, -1, axis=1), axis=2)   # side k: corner k to k + 1
    edges = sides.max(axis=1)
    divisions = np.maximum(1, np.ceil(edges / spacing)).astype(np.int64)
    areas = 0.5 * np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]),
                                 axis=1)
    step = spacing / np.sqrt(2.0)
    rows = np.maximum(1, np.ceil(2.0 * areas / np.maximum(edges, 1e-300) / step)).astype(np.int64)
    in_rows = (rows + 1) * (np.ceil(edges / step) / 2 + 1)
    sliver = (divisions + 1) * (divisions + 2) / 2 > SLIVER_RATIO * in_rows
    points, owners, weights = [], [], []
    for n in np.unique(divisions[~sliver]):
        which = np.flatnonzero((divisions == n) & ~sliver)
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = (i + j) <= n
        bary = np.stack([n - i[keep] - j[keep], i[keep], j[keep]], axis=1) / n  # (P, 3)
        points.append(np.einsum("pk,tkd->tpd", bary, triangles[which]).reshape(-1, 3))
        owners.append(np.repeat(which, len(bary)))
        weights.append(np.repeat(areas[which] / len(bary), len(bary)))
    if sliver.any():
        which = np.flatnonzero(sliver)
        found, owner = _row_points(triangles[which], sides[which].argmax(axis=1), rows[which], step)
        points.append(found)
        owners.append(which[owner])
        weights.append(areas[which][owner] / np.bincount(owner, minlength=len(which))[owner])
    return np.concatenate(points), np.concatenate(owners), np.concatenate(weights)


def _row_points(triangles: np.ndarray, longest: np.ndarray, rows: np.ndarray,
                step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points on each triangle in ``rows`` + 1 rows parallel to its longest side (``longest``: side k runs from
    corner k to k + 1), from it to the opposite corner, the rows and the points in each at most ``step`` apart:
    every point of the triangle is within 1.12 ``step`` of one (of the row below it: the rows' spans nest, as the
    opposite corner stands over the longest side). The points, and the triangle (of ``triangles``) each belongs
    to."""
    index = np.arange(len(triangles))
    base_a, base_b = triangles[index, longest], triangles[index, (longest + 1) % 3]
    apex = triangles[index, (longest + 2) % 3]
    row_owner = np.repeat(index, rows + 1)
    first_row = np.cumsum(rows + 1) - (rows + 1)
    t = ((np.arange(len(row_owner)) - first_row[row_owner]) / rows[row_owner])[:, None]   # 0 at the edge, 1 apex
    start = base_a[row_owner] + t * (apex[row_owner] - base_a[row_owner])
    end = base_b[row_owner] + t * (apex[row_owner] - base_b[row_owner])
    counts = np.ceil(np.linalg.norm(end - start, axis=1) / step).astype(np.int64) + 1
    point_row = np.repeat(np.arange(len(row_owner)), counts)
    first_point = np.cumsum(counts) - counts
    along = (np.arange(len(point_row)) - first_point[point_row]) / np.maximum(counts[point_row] - 1, 1)
    found = start[point_row] + along[:, None] * (end[point_row] - start[point_row])
    return found, row_owner[point_row]


def nearest_on(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray,
               spacing: float = SPACING) -> np.ndarray:
    """Each point's distance to the mesh (``vertices``, ``triangles``): exact to one of its triangles,
    so never short of the truth, and at most ``spacing`` over it (the triangles of the nearest
    points of a grid that far apart on the mesh are measured; long thin triangles, as a decimation
    makes, are found as surely as small ones)."""
    points = np.asarray(points, dtype=np.float64)
    corners = np.asarray(vertices, dtype=np.float64)[np.asarray(triangles, dtype=np.int64)]
    if len(points) == 0 or len(corners) == 0:
        return np.full(len(points), np.inf)
    samples, owners, _ = grid_points(corners, spacing)
    tree = cKDTree(samples)
    k = min(CANDIDATES, len(samples))
    distance = np.empty(len(points))
    for start in range(0, len(points), CHUNK):
        chunk = points[start:start + CHUNK]
        _, nearest = tree.query(chunk, k=k)
        tri = corners[owners[nearest.reshape(len(chunk), k)]]
        squared, _ = closest_on_triangles(chunk[:, None, :], tri[:, :, 0], tri[:, :, 1], tri[:, :, 2])
        distance[start:start + len(chunk)] = np.sqrt(squared.min(axis=1))
    return distance


def turned_share(vertices: np.ndarray, faces: np.ndarray, out_vertices: np.ndarray,
                 out_triangles: np.ndarray) -> float:
    """The share of the result's area facing against the input where it lies: a result face is
    turned when none of the input's triangles about as near as its nearest (within ``NEAR_SHARE`` of
    its own size: two pieces touching face to face, a lid on a body, offer both ways) faces its way."""
    corners = np.asarray(out_vertices, dtype=np.float64)[np.asarray(out_triangles, dtype=np.int64)]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    area = np.linalg.norm(normals, axis=1)
    inputs = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    if len(corners) == 0 or len(inputs) == 0 or area.sum() <= 0.0:
        return 0.0
    facing = np.cross(inputs[:, 1] - inputs[:, 0], inputs[:, 2] - inputs[:, 0])
    centres = corners.mean(axis=1)
    size = np.sqrt(area)
    k = min(2 * CANDIDATES, len(inputs))  # input triangles are small: their centroids find them
    tree = cKDTree(inputs.mean(axis=1))
    agrees = np.zeros(len(corners), dtype=bool)
    sign = np.zeros(len(corners))
    for start in range(0, len(corners), CHUNK):
        rows = slice(start, start + CHUNK)
        chunk = centres[rows]
        _, candidates = tree.query(chunk, k=k)
        candidates = candidates.reshape(len(chunk), k)
        tri = inputs[candidates]
        squared, _ = closest_on_triangles(chunk[:, None, :], tri[:, :, 0], tri[:, :, 1], tri[:, :, 2])
        distance = np.sqrt(squared)
        near = distance <= distance.min(axis=1, keepdims=True) + NEAR_SHARE * size[rows, None]
        along = np.einsum("nd,nkd->nk", normals[rows], facing[candidates])
        agrees[rows] = np.any(near & (along > 0.0), axis=1)
        sign[rows] = along[np.arange(len(chunk)), np.argmin(distance, axis=1)]
    # A result wound the other way round as a whole faces the other way everywhere: judged by the whole.
    if np.sum(np.sign(sign) * area) < 0.0:
        return turned_share(vertices, faces, out_vertices, np.asarray(out_triangles)[:, ::-1])
    return float(np.sum(area[~agrees]) / area.sum())


def coverage(vertices: np.ndarray, faces: np.ndarray, out_vertices: np.ndarray, out_triangles: np.ndarray,
             facing: bool = True, quad_side: float | None = None) -> Coverage:
    """How the result (``out_vertices``, ``out_triangles``) covers and (with ``facing``) faces the
    input (``vertices``, ``faces``), and (given the quads' median side) how far it stands off it;
    both in the unit frame (see the module's docstring)."""
    out_triangles = np.asarray(out_triangles, dtype=np.int64).reshape(-1, 3)
    if len(out_triangles) == 0:
        return Coverage(float("inf"), 0.0)
    gap = nearest_on(vertices, out_vertices, out_triangles)
    turned = turned_share(vertices, faces, out_vertices, out_triangles) if facing else 0.0
    stand_off = 0.0
    if quad_side:
        corners = np.asarray(out_vertices, dtype=np.float64)[out_triangles]
        samples, _, _ = grid_points(corners, STAND_OFF_SAMPLES * quad_side)
        stand_off = float(nearest_on(samples, vertices, faces).max()) / quad_side
    return Coverage(float(gap.max()) if len(gap) else 0.0, turned, stand_off)
