"""A surface the repair cannot close rebuilt as the solid it bounds, on a grid: the last resort.

Edges shared by three faces or more, a piece that passes through itself, a hole whose rim cannot be followed:
no local repair says what such a surface encloses. Here the surface is sampled densely (points closer than
half a cell), every cell a point falls in is marked, the marked shell is closed by one cell (dilated, then
eroded) so that gaps narrower than that do not leak, and everything the shell encloses is filled; scikit-image's
marching cubes (Lewiner's, whose surfaces are manifold) turns the filled cells into a closed surface. Overlapping
bodies become their union, and a sheet with nothing inside it becomes a plate one cell thick: the caller decides
which sheets to keep before it comes here. Detail finer than a cell is lost; the record says how large a cell was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELLS = 192                # cells along the longest side
MAX_SAMPLES = 12_000_000   # surface points at most (each triangle sampled at least at its corners)


@dataclass
class Rebuilt:
    vertices: np.ndarray
    faces: np.ndarray
    cell: float            # the grid's cell, in the mesh's units


def rebuild(vertices: np.ndarray, faces: np.ndarray, cells: int = CELLS) -> Rebuilt | None:
    """The solid ``faces`` bound, as a closed surface; None when it encloses nothing."""
    from scipy import ndimage
    from skimage.measure import marching_cubes

    low, high = vertices.min(axis=0), vertices.max(axis=0)
    cell = float((high - low).max()) / cells
    if cell <= 0:
        return None
    origin = low - 3 * cell
    shape = np.ceil((high - low) / cell).astype(np.int64) + 7
    points = surface_points(vertices, faces, cell / 2)
    index = np.floor((points - origin) / cell).astype(np.int64)
    shell = np.zeros(shape, dtype=bool)
    shell[index[:, 0], index[:, 1], index[:, 2]] = True
    closed = ndimage.binary_erosion(ndimage.binary_dilation(shell), border_value=0) | shell
    solid = ndimage.binary_fill_holes(closed)
    if not solid.any():
        return None
    field = ndimage.gaussian_filter(solid.astype(np.float32), 0.6)  # a smooth level: no voxel staircase
    if field.max() <= 0.5:
        return None
    verts, tris, _, _ = marching_cubes(field, level=0.5, spacing=(cell, cell, cell))
    # Its faces wind round the gradient, which points inward here (the field is 1 inside): turned outward.
    return Rebuilt(verts.astype(np.float64) + origin, tris[:, ::-1].astype(np.int64), cell)


def surface_points(vertices: np.ndarray, faces: np.ndarray, spacing: float) -> np.ndarray:
    """Points on every triangle no further than ``spacing`` apart (a triangular lattice of barycentric points)."""
    corners = vertices[faces]
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    steps = np.maximum(np.ceil(longest / spacing).astype(np.int64), 1)
    per = (steps + 1) * (steps + 2) // 2
    if per.sum() > MAX_SAMPLES:  # a mesh with huge triangles and a fine grid: coarser points, cells may leak less
        steps = np.maximum((steps * np.sqrt(MAX_SAMPLES / per.sum())).astype(np.int64), 1)
    found = [vertices]
    for n in np.unique(steps):
        chosen = corners[steps == n]
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        a, b = i[keep] / n, j[keep] / n
        weights = np.stack([1 - a - b, a, b], axis=1)  # (p, 3)
        found.append(np.einsum("pk,tkd->tpd", weights, chosen).reshape(-1, 3))
    return np.concatenate(found)
