"""The mesh as filled voxels: the volume the geometric binding measures distances through.

The grid's pitch is the mesh's longest side over ``CELLS_ALONG_LONGEST`` (80): a humanoid's arm is
about a fifteenth of its height across, so it spans five voxels or more, and the gap between an arm and
the torso (a few percent of the height on a T- or A-pose) stays open; finer grids cost time with the
square of the resolution on the 2-core CPUs img23d must run on (``bench/rig_binding.py`` measures it).

The shell is every voxel a triangle passes through, found from points sampled on each triangle no
further apart than half a voxel. It is dilated by one voxel before the inside is filled
(``scipy.ndimage.binary_fill_holes``) so that a hole narrower than about two voxels (a missing face, a
non-manifold seam, an AI mesh's crack) does not let the fill leak out; the dilated, filled mask is the
volume. Loose specks are voxelised like the rest and simply form islands of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

CELLS_ALONG_LONGEST = 80
_CHUNK_POINTS = 2_000_000  # sampled points held at once (48 MB), however large the triangles


@dataclass(frozen=True)
class VoxelVolume:
    """Filled voxels: ``filled[i, j, k]`` is the cell whose centre is ``origin + (i, j, k + 0.5) * pitch``."""

    origin: np.ndarray   # (3,) the grid's lower corner
    pitch: float
    filled: np.ndarray   # (X, Y, Z) bool

    @cached_property
    def depth(self) -> np.ndarray:
        """Each voxel's distance to the nearest empty one, in voxels (0 outside; the Euclidean distance
        transform of ``filled``): made once per volume, for the side test, the bones' thickness and the
        medial axis's radii alike."""
        from scipy.ndimage import distance_transform_edt

        return distance_transform_edt(self.filled)

    def centres(self, cells: np.ndarray) -> np.ndarray:
        return self.origin + (np.asarray(cells, dtype=np.float64) + 0.5) * self.pitch

    def cell_of(self, points: np.ndarray) -> np.ndarray:
        """Each point's cell (X, Y, Z indices), clipped into the grid."""
        cells = np.floor((np.asarray(points, dtype=np.float64) - self.origin) / self.pitch).astype(np.int64)
        return np.clip(cells, 0, np.array(self.filled.shape) - 1)


def pitch_for(positions: np.ndarray, cells: int = CELLS_ALONG_LONGEST) -> float:
    extent = float(np.ptp(positions, axis=0).max())
    if not extent > 0:
        raise ValueError("the mesh has no extent: all its vertices are at one point")
    return extent / cells


def surface_points(positions: np.ndarray, triangles: np.ndarray, spacing: float) -> np.ndarray:
    """Points on every triangle, no two neighbours further apart than ``spacing`` (the corners included)."""
    corners = positions[triangles]                                     # (F, 3, 3)
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    # No cap: an edge is at most the grid's diagonal, about 280 half-voxels at 80 cells.
    steps = np.maximum(np.ceil(longest / spacing), 1).astype(np.int64)
    points = [positions]
    for n in np.unique(steps):
        if n < 2:
            continue
        # Barycentric grid points (i, j, n - i - j) / n of the triangles subdivided n times.
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        bary = np.stack([i[keep], j[keep], n - i[keep] - j[keep]], axis=1) / n   # (S, 3)
        chosen = corners[steps == n]                                             # (f, 3, 3)
        per_chunk = max(_CHUNK_POINTS // len(bary), 1)
        for first in range(0, len(chosen), per_chunk):
            points.append(np.einsum("sc,fcd->fsd", bary, chosen[first:first + per_chunk]).reshape(-1, 3))
    return np.concatenate(points)


def voxelise(positions: np.ndarray, triangles: np.ndarray, cells: int = CELLS_ALONG_LONGEST) -> VoxelVolume:
    """The filled volume of the mesh (see the module's docstring)."""
    from scipy import ndimage

    positions = np.asarray(positions, dtype=np.float64)
    pitch = pitch_for(positions, cells)
    # Two empty cells of margin on each side: the dilation and the fill need outside around the shell.
    origin = positions.min(axis=0) - 2 * pitch
    shape = tuple(int(n) for n in np.ceil(np.ptp(positions, axis=0) / pitch).astype(np.int64) + 5)
    shell = np.zeros(shape, dtype=bool)
    points = surface_points(positions, np.asarray(triangles, dtype=np.int64), pitch / 2)
    cells_hit = np.clip(np.floor((points - origin) / pitch).astype(np.int64), 0, np.array(shape) - 1)
    shell[cells_hit[:, 0], cells_hit[:, 1], cells_hit[:, 2]] = True
    shell = ndimage.binary_dilation(shell, structure=ndimage.generate_binary_structure(3, 1))
    filled = ndimage.binary_fill_holes(shell)
    return VoxelVolume(origin=origin, pitch=pitch, filled=filled)
