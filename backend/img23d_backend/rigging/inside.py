"""Which side of the mesh's surface a point lies on: what keeps nearly touching limbs apart.

The filled voxels (``voxels``) join two parts closer than about two voxels: the shell's dilation and
the grid's size both bridge the gap, and the distance through the volume then crosses from one leg to
the other (issue 73: at 80 cells a 1 cm gap on a 1.8 m figure is half a voxel). Three ways out were
weighed. A finer grid everywhere costs time with the cube of the resolution (a 1 cm gap wants 0.3 cm
voxels, 600 along a figure); a finer grid only where parts nearly touch needs the gap found first,
and a graph over two grids. The surface's own geodesics start from the surface, not from the bones
inside it, and break on AI meshes' cracks. The way taken is a line of sight inside the volume: the
grid stays as it is, but a voxel whose centre lies outside the surface is no node, and a step between
two voxels (or from a vertex to the voxel it reads) is refused when its line goes further out of the
surface than its two ends are (read at its middle, and where the surface's normals there disagree at
five points along it: a third of a voxel apart or closer). A gap wider than those reads, 0.8 cm on a
1.8 m figure at 80 cells, cuts every step across it, at the grid's speed; a hole in the surface still
holds the fill (the shell's dilation is unchanged).

The side is read from the nearest of points sampled on the triangles (half a voxel apart, as the
voxels' own shell is sampled, so ``limits``' bound on those samples holds for these): the sign of the
offset along that triangle's normal, positive outside. The normals are taken outwards by the mesh's
signed volume (a mesh wound inside out is turned, not refused). Where the winding is not consistent
(a soup of flipped faces, an open sheet) the test is not trusted: voxels just inside the volume that
it puts outside are counted, and past ``MOSTLY_OUTSIDE`` the caller binds as before, without cuts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NODE_TOLERANCE = 0.25   # a voxel whose centre is further out than this part of a voxel is no node
STEP_TOLERANCE = 0.1    # a step may go this part of a voxel further out than its ends (the test's noise)
MOSTLY_OUTSIDE = 0.1    # this share of the voxels one to two deep read as outside: the winding is no guide
_CHUNK = 400_000


@dataclass(frozen=True)
class SurfaceSide:
    """Dense points on the surface with their outward normals (see the module's docstring)."""

    tree: "object"          # scipy.spatial.cKDTree over ``points``
    points: np.ndarray      # (S, 3)
    normals: np.ndarray     # (S, 3) unit, outwards
    reach: float            # a point further than this from every sample is deep inside

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's offset out of the surface along the nearest sample's normal (negative inside;
        ``-inf`` beyond ``reach`` of the surface, which only a deep voxel is) and that normal (zero there)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out, normal = np.full(len(points), -np.inf), np.zeros((len(points), 3))
        for first in range(0, len(points), _CHUNK):
            chunk = points[first:first + _CHUNK]
            distance, nearest = self.tree.query(chunk, distance_upper_bound=self.reach)  # type: ignore[attr-defined]
            found = np.isfinite(distance)
            normal[first:first + _CHUNK][found] = self.normals[nearest[found]]
            offset = chunk[found] - self.points[nearest[found]]
            out[first:first + _CHUNK][found] = np.einsum("ij,ij->i", offset, normal[first:first + _CHUNK][found])
        return out, normal

    def signed(self, points: np.ndarray) -> np.ndarray:
        return self.nearest(points)[0]

    def clear(self, starts: np.ndarray, ends: np.ndarray, start_side: np.ndarray, end_side: np.ndarray,
              start_normal: np.ndarray, end_normal: np.ndarray, pitch: float, samples: int = 4) -> np.ndarray:
        """Whether each straight step from ``starts`` to ``ends`` stays no further out of the surface
        than its ends (``*_side``, ``*_normal``: their offsets and nearest normals from ``nearest``).
        The middle is read first; a step whose ends and middle face one sheet of the surface (normals
        within 60 degrees) and whose middle is in is clear; the others are read at ``samples`` points."""
        limit = np.maximum(np.maximum(start_side, end_side), 0.0) + STEP_TOLERANCE * pitch
        middle_side, middle_normal = self.nearest((starts + ends) / 2)
        facing = np.minimum(np.minimum(np.einsum("ij,ij->i", start_normal, middle_normal),
                                       np.einsum("ij,ij->i", end_normal, middle_normal)),
                            np.einsum("ij,ij->i", start_normal, end_normal))
        ok = middle_side <= limit
        doubt = np.flatnonzero(ok & (facing < 0.5) & np.isfinite(middle_side))
        worst = np.full(len(doubt), -np.inf)
        for t in np.arange(1, samples + 1) / (samples + 1):
            worst = np.maximum(worst, self.signed(starts[doubt] + t * (ends[doubt] - starts[doubt])))
        ok[doubt] = worst <= limit[doubt]
        return ok


def surface_side(positions: np.ndarray, triangles: np.ndarray, pitch: float) -> SurfaceSide:
    """Samples half a ``pitch`` apart on every triangle (its centre where it is smaller), each with its
    triangle's normal, turned outwards."""
    from scipy.spatial import cKDTree

    positions = np.asarray(positions, dtype=np.float64)
    corners = positions[np.asarray(triangles, dtype=np.int64)]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    # Six times the signed volume: the sum of each triangle's corner triple product.
    if float(np.einsum("ij,ij->i", corners[:, 0], normals).sum()) < 0:
        normals = -normals
    length = np.linalg.norm(normals, axis=1)
    useful = length > 0
    corners, normals = corners[useful], normals[useful] / length[useful, None]
    spacing = pitch / 2
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    steps = np.maximum(np.ceil(longest / spacing), 1).astype(np.int64)
    points, owners = [corners.mean(axis=1)], [np.arange(len(corners))]
    for n in np.unique(steps):
        if n < 2:
            continue
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        bary = np.stack([i[keep], j[keep], n - i[keep] - j[keep]], axis=1) / n
        chosen = np.flatnonzero(steps == n)
        per_chunk = max(_CHUNK // len(bary), 1)
        for first in range(0, len(chosen), per_chunk):
            faces = chosen[first:first + per_chunk]
            points.append(np.einsum("sc,fcd->fsd", bary, corners[faces]).reshape(-1, 3))
            owners.append(np.repeat(faces, len(bary)))
    points_all = np.concatenate(points)
    return SurfaceSide(cKDTree(points_all), points_all, normals[np.concatenate(owners)], reach=2.0 * pitch)


def trusted(side: SurfaceSide, centres: np.ndarray, depth_in_voxels: np.ndarray, pitch: float) -> bool:
    """Whether the side test agrees with the fill: voxels one to two voxels inside the dilated volume
    (about at the surface or just within) read as outside by a voxel for fewer than ``MOSTLY_OUTSIDE``."""
    probe = (depth_in_voxels >= 2.5) & (depth_in_voxels <= 4.0)
    if probe.sum() < 10:
        return True   # too thin to judge: a thin shape has nothing to keep apart either
    return float((side.signed(centres[probe]) > NODE_TOLERANCE * pitch).mean()) < MOSTLY_OUTSIDE
