"""Distances between two triangle meshes for the benchmarks: symmetric Hausdorff and Chamfer, with
a stated error bound.

Measured the way Metro does it (Cignoni, Rocchini and Scopigno 1998: dense sampling of one surface,
distances to the other), without rtree (which trimesh's proximity queries need; it is not installed):

* **Point to surface.** The other mesh is covered by a barycentric grid of points whose
  sub-triangles have no edge longer than ``spacing``; a k-d tree over them gives, for a query point,
  the triangles of its 4 nearest grid points, and the exact closest point of each of those
  triangles (the bake's own ``closest_on_triangles``) gives the distance. That is the exact
  distance to one of the mesh's triangles, so it is never below the true distance, and never
  above the distance to the nearest grid point (whose triangle is among those asked), which is
  within ``spacing`` of the true one: each distance is exact or at most ``spacing`` too long
  (in practice exact: the nearest triangle is nearly always among the candidates).
* **Sampling the measured mesh with a known spacing.** Its triangles are covered the same way:
  every point of the surface is within ``spacing`` of a grid point, and the distance to the other
  surface changes by at most the distance moved (it is 1-Lipschitz), so the true one-sided maximum
  is at most ``spacing`` above the grid's; with the first point, the maximum returned lies within
  ``spacing`` of the true one, either way (the ``bound`` returned).
* **Chamfer**: the mean of the distances over the grid points, each weighted by its
  triangle's area over the triangle's points, both ways, averaged (a quadrature, whose error is far
  below the figures it is used for).

All distances are returned as shares of the first mesh's bounding-box diagonal.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "backend"))

from img23d_backend.finish.bake.surface import closest_on_triangles  # noqa: E402
from img23d_backend.finish.coverage import grid_points  # noqa: E402  (the finish's own check uses the same grid)

CHUNK = 20_000   # points per batch of exact distances: memory stays at tens of MB
CANDIDATES = 4   # nearest grid points whose triangles are measured exactly


@dataclass(frozen=True)
class Distances:
    """Shares of the first mesh's bounding-box diagonal."""

    hausdorff: float        # the larger of the two one-sided maxima, within ``bound`` of the truth
    chamfer: float          # mean of the two one-sided mean distances
    high_to_low: float      # the largest distance from the first mesh to the second
    low_to_high: float
    bound: float            # the spacing: how far either maximum may be from the true one
    points: int             # point-to-surface queries made, both ways


class Surface:
    """One mesh's triangles, ready for nearest-distance queries (see the module's docstring)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, spacing: float) -> None:
        self.triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
        samples, self.owners, _ = grid_points(self.triangles, spacing)
        self.tree = cKDTree(samples)

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Distance from each point to the surface: exact, or at most ``spacing`` too long."""
        result = np.empty(len(points))
        for start in range(0, len(points), CHUNK):
            chunk = points[start:start + CHUNK]
            _, index = self.tree.query(chunk, k=CANDIDATES)
            tri = self.triangles[self.owners[index.reshape(len(chunk), -1)]]
            squared, _ = closest_on_triangles(chunk[:, None, :], tri[..., 0, :], tri[..., 1, :], tri[..., 2, :])
            result[start:start + len(chunk)] = np.sqrt(squared.min(axis=1))
        return result


def one_way(source: np.ndarray, target: Surface, spacing: float) -> tuple[float, float, int]:
    """Largest and area-weighted mean distance from ``source``'s triangles to ``target``, and the
    number of queries made."""
    points, _, weights = grid_points(source, spacing)
    distance = target.distance(points)
    return float(distance.max()), float(np.sum(distance * weights) / max(np.sum(weights), 1e-300)), len(points)


def distances(high_vertices: np.ndarray, high_faces: np.ndarray, low_vertices: np.ndarray, low_faces: np.ndarray,
              spacing: float = 0.004) -> Distances:
    """Symmetric Hausdorff and Chamfer distances; ``spacing`` is a share of the high mesh's
    bounding-box diagonal, which every figure is divided by."""
    high_vertices = np.asarray(high_vertices, dtype=np.float64)
    diagonal = float(np.linalg.norm(np.ptp(high_vertices, axis=0)))
    step = spacing * diagonal
    high, low = Surface(high_vertices, high_faces, step), Surface(low_vertices, low_faces, step)
    h_to_l, h_mean, n1 = one_way(high.triangles, low, step)
    l_to_h, l_mean, n2 = one_way(low.triangles, high, step)
    return Distances(hausdorff=max(h_to_l, l_to_h) / diagonal, chamfer=0.5 * (h_mean + l_mean) / diagonal,
                     high_to_low=h_to_l / diagonal, low_to_high=l_to_h / diagonal, bound=spacing, points=n1 + n2)
