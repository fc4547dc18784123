"""A mesh as the retopology sees it: the same arrays whatever order its vertices and faces came in,
in a unit box whatever its size and place.

**Order.** Instant Meshes' result depends on the order of its input (its deterministic mode fixes
the seeds, not the traversal: renumbering the vertices of the real Hunyuan3D-2 mesh moved its
quads' Hausdorff distance from 1.0 % to 1.6 % of the diagonal), and so did the command's result
against the benchmark's for the same file, which numbered the same vertices differently. So the
mesh is put in one order first: vertices sorted by position (x, then y, then z; copies of one
position, as a GLB's UV seams make, become one vertex), each face turned, keeping its winding, to
start at its lowest vertex, faces sorted, faces that collapsed or repeat dropped, vertices no face
uses dropped. Any renumbering of the same surface gives the same arrays, so the same quads.

**Size and place.** Instant Meshes works in float32: a mesh 10^6 units from the origin keeps
about 0.06 of a unit of precision there, and its field and extraction then break down (issue 54:
a 23 GB worker and a shredded result). The remesh works on the mesh moved and scaled into a unit
box, its bounding-box centre at the origin and its diagonal 1, and the result goes back by the
inverse (``Canonical.to_input``). In that frame a distance is a share of the diagonal. Sorting by
position commutes with the move (it is a translation and a uniform scale), so the two steps do
not depend on each other's order either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Canonical:
    """The mesh in canonical order, in the unit frame: ``vertices`` (V, 3) float64, ``faces`` (F, 3)."""

    vertices: np.ndarray
    faces: np.ndarray
    centre: np.ndarray      # the input's bounding-box centre
    scale: float            # the input's bounding-box diagonal (1.0 for a mesh with no extent)

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """Points of the unit frame back in the input's frame (float64)."""
        return np.asarray(points, dtype=np.float64) * self.scale + self.centre

    def to_unit(self, points: np.ndarray) -> np.ndarray:
        """Points of the input's frame in the unit frame (float64)."""
        return (np.asarray(points, dtype=np.float64) - self.centre) / self.scale


def canonical(vertices: np.ndarray, faces: np.ndarray) -> Canonical:
    """The surface of (``vertices``, ``faces``) in canonical order and in the unit frame (see the
    module's docstring). A mesh whose faces all collapse comes back with no faces."""
    points = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    unique, inverse = np.unique(points, axis=0, return_inverse=True)  # sorted rows: x, then y, then z
    faces = inverse.reshape(-1)[faces]
    whole = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    faces = faces[whole]
    # Each face from its lowest vertex, its winding kept: (a, b, c), (b, c, a) and (c, a, b) are one face.
    first = np.argmin(faces, axis=1)
    turn = (first[:, None] + np.arange(3)[None, :]) % 3
    faces = np.take_along_axis(faces, turn, axis=1)
    faces = np.unique(faces, axis=0) if len(faces) else faces  # sorted rows; a repeated face once
    used = np.zeros(len(unique), dtype=bool)
    used[faces.ravel()] = True
    renumber = np.cumsum(used) - 1
    unique, faces = unique[used], renumber[faces]
    if len(unique) == 0:
        return Canonical(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros(3), 1.0)
    low, high = unique.min(axis=0), unique.max(axis=0)
    centre = (low + high) / 2.0
    scale = float(np.linalg.norm(high - low))
    scale = scale if scale > 0.0 and np.isfinite(scale) else 1.0
    return Canonical((unique - centre) / scale, faces.astype(np.int64), centre, scale)
