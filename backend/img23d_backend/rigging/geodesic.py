"""Distances from each bone through the filled voxels: the "geodesic" of geodesic voxel binding.

Each filled voxel is a node joined to its 26 neighbours by the distance between their centres (1, sqrt 2
or sqrt 3 voxels), so a path may not cut through empty space: an arm held beside the torso is far from
the torso's bones by the way round through the shoulder, not by the gap. Each bone gets a node of its own,
joined to the voxels its segment passes near by their exact distance to the segment (so distances start
from the bone, not from its voxels' centres), and one run of Dijkstra's algorithm
(``scipy.sparse.csgraph.dijkstra``) from those bone nodes gives every voxel's distance to every bone. The graph is directed: a bone's node
only leads out to its voxels, never back in, or a path could enter one bone near its head and leave
it at its tail for nothing (every bone a free shortcut).
A bone outside the volume (an artist's skeleton slightly off the mesh) is joined to the voxels nearest it.
"""

from __future__ import annotations

import numpy as np

from .voxels import VoxelVolume

_OFFSETS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)
                     if (i, j, k) != (0, 0, 0)])


def segment_distance(points: np.ndarray, head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Each point's distance to the segment from ``head`` to ``tail``."""
    axis = tail - head
    length2 = float(axis @ axis)
    t = np.zeros(len(points)) if length2 == 0 else np.clip((points - head) @ axis / length2, 0.0, 1.0)
    return np.linalg.norm(points - (head + t[:, None] * axis), axis=1)


def bone_distances(volume: VoxelVolume, heads: np.ndarray, tails: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The filled voxels' cells (N, 3) and each one's distance to each bone (N, J) through the volume
    (inf where a voxel's island holds no path to a bone)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    cells = np.argwhere(volume.filled)
    count, bones = len(cells), len(heads)
    # Each filled cell's node number, in a grid padded by one empty cell: a neighbour is a shifted slice.
    index = np.full(np.array(volume.filled.shape) + 2, -1, dtype=np.int64)
    inner = tuple(slice(1, 1 + n) for n in volume.filled.shape)
    index[inner][volume.filled] = np.arange(count)  # boolean order is argwhere's order
    rows, cols, lengths = [], [], []
    for offset in _OFFSETS:
        shifted = tuple(slice(1 + o, 1 + o + n) for o, n in zip(offset, volume.filled.shape))
        neighbour = index[shifted][volume.filled]
        linked = neighbour >= 0
        rows.append(np.flatnonzero(linked))
        cols.append(neighbour[linked])
        lengths.append(np.full(int(linked.sum()), np.linalg.norm(offset) * volume.pitch))
    centres = volume.centres(cells)
    tree = cKDTree(centres)
    for bone in range(bones):
        seeds = _seed_voxels(tree, volume.pitch, heads[bone], tails[bone])
        rows.append(np.full(len(seeds), count + bone))
        cols.append(seeds)
        lengths.append(segment_distance(centres[seeds], heads[bone], tails[bone]) + 1e-12)
    graph = coo_matrix((np.concatenate(lengths), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(count + bones, count + bones)).tocsr()
    distances = dijkstra(graph, directed=True, indices=np.arange(count, count + bones))
    return cells, distances[:, :count].T


def _seed_voxels(tree: "object", pitch: float, head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """The filled voxels within a voxel of the bone's segment, else the one nearest to it."""
    steps = max(int(np.ceil(np.linalg.norm(tail - head) / (pitch / 2))), 1)
    samples = head + np.linspace(0.0, 1.0, steps + 1)[:, None] * (tail - head)
    near = tree.query_ball_point(samples, r=pitch)  # type: ignore[attr-defined]
    seeds = np.unique(np.concatenate([np.asarray(n, dtype=np.int64) for n in near]))
    if len(seeds):
        return seeds
    distance, nearest = tree.query(samples)  # type: ignore[attr-defined]
    return np.array([nearest[int(np.argmin(distance))]], dtype=np.int64)
