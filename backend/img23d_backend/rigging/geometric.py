"""The geometric binding (``--weights geometric``): geodesic voxel binding, no model.

After Dionne & de Lasa, "Geodesic Voxel Binding for Production Character Meshes" (SCA 2013,
doi:10.1145/2485895.2485919), as UniRig's voxel skin prior (``src/data/vertex_group.py``, MIT) reads it:
the mesh is voxelised and filled (``voxels``), each bone's distance through the filled voxels is found
(``geodesic``), and a vertex's weight for a bone falls off with that distance as

    w = (1 / ((1 - alpha) d + alpha d^2))^2,   alpha = 0.5,

with ``d`` in units of the mesh's half-size (UniRig scales the mesh into [-1, 1] first: the same thing),
so the falloff is the same for a 2 cm figurine and a 20 m statue. A vertex reads the distances of the
filled voxel nearest to it; the strongest four are kept and renormalised (``skin.Skin``).

Robust to what AI meshes have: a hole narrower than two voxels is closed by the dilated shell; a loose
speck forms an island of voxels no bone reaches, and its vertices fall back on their straight-line
distance to every bone, so every vertex has a weight and no group is left empty by a speck (Blender's
automatic weights leave *every* group empty then: DESIGN.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .geodesic import bone_distances, segment_distance
from .skeleton import Skeleton
from .skin import Skin
from .voxels import CELLS_ALONG_LONGEST, voxelise

ALPHA = 0.5


@dataclass(frozen=True)
class Binding:
    """The weights and what the binding saw on the way."""

    skin: Skin
    pitch: float             # the voxel's side, in the mesh's units
    voxels: int              # filled voxels
    fallback_vertices: int   # vertices on islands no bone reaches (Euclidean distance used)
    seconds: float


def falloff(distance: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Dionne & de Lasa's weight for a (normalised, positive) distance."""
    return (1.0 / ((1.0 - alpha) * distance + alpha * distance ** 2)) ** 2


def bind(positions: np.ndarray, triangles: np.ndarray, skeleton: Skeleton,
         cells: int = CELLS_ALONG_LONGEST) -> Binding:
    """Each vertex's weights for ``skeleton``'s bones (see the module's docstring)."""
    from scipy.spatial import cKDTree

    started = time.perf_counter()
    positions = np.asarray(positions, dtype=np.float64)
    volume = voxelise(positions, triangles, cells)
    voxel_cells, through = bone_distances(volume, skeleton.heads, skeleton.tails)
    _, nearest = cKDTree(volume.centres(voxel_cells)).query(positions)
    distance = through[nearest]                                            # (V, J)
    stranded = ~np.isfinite(distance).any(axis=1)
    if stranded.any():
        distance[stranded] = np.stack([segment_distance(positions[stranded], head, tail)
                                       for head, tail in zip(skeleton.heads, skeleton.tails)], axis=1)
    half_size = float(np.ptp(positions, axis=0).max()) / 2
    # Under half a voxel apart is as near as the grid can tell: the floor keeps the weight finite.
    normalised = np.maximum(distance, volume.pitch / 2) / half_size
    weights = np.where(np.isfinite(normalised), falloff(np.where(np.isfinite(normalised), normalised, 1.0)), 0.0)
    return Binding(skin=Skin.from_dense(weights), pitch=volume.pitch, voxels=int(volume.filled.sum()),
                   fallback_vertices=int(stranded.sum()), seconds=time.perf_counter() - started)
