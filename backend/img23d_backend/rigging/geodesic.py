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

Given the surface's side (``inside.SurfaceSide``), voxels whose centre lies outside the surface are no
nodes and a step whose line leaves the surface is no edge: two limbs the grid joins across a gap narrower
than its voxels stay apart (``inside`` says why this way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inside import NODE_TOLERANCE, SurfaceSide
from .voxels import VoxelVolume

WHOLE_BODY = 0.9   # the cut mask's largest piece holds this share of it, or the cut broke the body

# Half of the 26 neighbours: each undirected step once, both directions added.
_OFFSETS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)
                     if (i, j, k) > (0, 0, 0)])


@dataclass(frozen=True)
class Distances:
    """The voxels that are nodes, their side of the surface, and each one's distance to each bone."""

    cells: np.ndarray     # (N, 3) grid indices
    side: np.ndarray      # (N,) signed offset out of the surface (-inf deep inside or with no side given)
    normal: np.ndarray    # (N, 3) the nearest surface sample's outward normal (zero where ``side`` is -inf)
    through: np.ndarray   # (N, J) distance to each bone through the volume (inf: no path)


def segment_distance(points: np.ndarray, head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Each point's distance to the segment from ``head`` to ``tail``."""
    axis = tail - head
    length2 = float(axis @ axis)
    t = np.zeros(len(points)) if length2 == 0 else np.clip((points - head) @ axis / length2, 0.0, 1.0)
    return np.linalg.norm(points - (head + t[:, None] * axis), axis=1)


@dataclass(frozen=True)
class VoxelGraph:
    """The voxels that are nodes and the steps between them (see the module's docstring)."""

    nodes: np.ndarray     # (X, Y, Z) bool: the filled voxels that are nodes
    cells: np.ndarray     # (N, 3) their grid indices, in ``np.argwhere`` order
    side: np.ndarray      # (N,) signed offset out of the surface (-inf deep inside or with no side given)
    normal: np.ndarray    # (N, 3) the nearest surface sample's outward normal (zero where ``side`` is -inf)
    starts: np.ndarray    # (E,) node numbers: each step kept, once
    ends: np.ndarray      # (E,)
    lengths: np.ndarray   # (E,)
    refused: np.ndarray   # (R, 2) node numbers of the steps whose line leaves the surface


def voxel_graph(volume: VoxelVolume, side: SurfaceSide | None = None) -> VoxelGraph:
    """The filled voxels as a graph of 26-neighbour steps; with ``side``, without the voxels outside the
    surface and the steps that leave it."""
    nodes = volume.filled
    offsets, normals = np.full(int(nodes.sum()), -np.inf), np.zeros((int(nodes.sum()), 3))
    if side is not None:
        offsets, normals = side.nearest(volume.centres(np.argwhere(nodes)))
        kept = offsets <= NODE_TOLERANCE * volume.pitch
        nodes = nodes.copy()
        nodes[nodes] = kept
        offsets, normals = offsets[kept], normals[kept]
    cells = np.argwhere(nodes)
    centres = volume.centres(cells)
    # Each node's number, in a grid padded by one empty cell: a neighbour is a shifted slice.
    index = np.full(np.array(nodes.shape) + 2, -1, dtype=np.int64)
    inner = tuple(slice(1, 1 + n) for n in nodes.shape)
    index[inner][nodes] = np.arange(len(cells))  # boolean order is argwhere's order
    starts, ends, lengths, refused = [], [], [], [np.zeros((0, 2), dtype=np.int64)]
    for offset in _OFFSETS:
        shifted = tuple(slice(1 + o, 1 + o + n) for o, n in zip(offset, nodes.shape))
        neighbour = index[shifted][nodes]
        start = np.flatnonzero(neighbour >= 0)
        end = neighbour[start]
        if side is not None:
            # Only a step between two voxels near the surface can leave it: one whose ends lie deeper
            # in, together, than it is long (half a voxel to spare for the side test's samples) cannot.
            near = np.isfinite(offsets[start]) & np.isfinite(offsets[end]) & \
                (-(offsets[start] + offsets[end]) < (np.linalg.norm(offset) + 0.5) * volume.pitch)
            cut = np.zeros(len(start), dtype=bool)
            a, b = start[near], end[near]
            cut[near] = ~side.clear(centres[a], centres[b], offsets[a], offsets[b], normals[a], normals[b],
                                    volume.pitch)
            refused.append(np.stack([start[cut], end[cut]], axis=1))
            start, end = start[~cut], end[~cut]
        starts.append(start), ends.append(end)
        lengths.append(np.full(len(start), np.linalg.norm(offset) * volume.pitch))
    return VoxelGraph(nodes, cells, offsets, normals, np.concatenate(starts), np.concatenate(ends),
                      np.concatenate(lengths), np.concatenate(refused))


def apart(volume: VoxelVolume, graph: VoxelGraph) -> VoxelVolume:
    """The volume as a mask whose voxels touch only where the graph joins them: the nodes less both ends
    of every refused step (a voxel layer off each side of a gap), for what reads a mask (the medial axis).
    A cut keeps limbs apart that the body joins elsewhere; where it breaks the body into pieces instead
    (shells that pass through each other, a blockout's overlapping primitives: each one's inner walls
    read as surface) the filled volume is returned as it was."""
    from scipy import ndimage

    nodes = graph.nodes.copy()
    if len(graph.refused):
        ends = graph.cells[np.unique(graph.refused.reshape(-1))]
        nodes[tuple(ends.T)] = False
    labels, count = ndimage.label(nodes, structure=np.ones((3, 3, 3)))
    if count == 0 or np.bincount(labels.reshape(-1))[1:].max() < WHOLE_BODY * nodes.sum():
        return volume
    return VoxelVolume(origin=volume.origin, pitch=volume.pitch, filled=nodes)


def bone_distances(volume: VoxelVolume, heads: np.ndarray, tails: np.ndarray,
                   side: SurfaceSide | None = None, graph: VoxelGraph | None = None) -> Distances:
    """Each node voxel's distance to each bone through the volume (see the module's docstring);
    ``graph``: the volume's graph when the caller has it already."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    graph = graph if graph is not None else voxel_graph(volume, side)
    centres = volume.centres(graph.cells)
    count, bones = len(graph.cells), len(heads)
    rows, cols = [graph.starts, graph.ends], [graph.ends, graph.starts]
    lengths = [graph.lengths, graph.lengths]
    tree = cKDTree(centres)
    for bone in range(bones):
        seeds = _seed_voxels(tree, volume.pitch, heads[bone], tails[bone])
        rows.append(np.full(len(seeds), count + bone))
        cols.append(seeds)
        lengths.append(segment_distance(centres[seeds], heads[bone], tails[bone]) + 1e-12)
    matrix = coo_matrix((np.concatenate(lengths), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(count + bones, count + bones)).tocsr()
    distances = dijkstra(matrix, directed=True, indices=np.arange(count, count + bones))
    return Distances(graph.cells, graph.side, graph.normal, distances[:, :count].T)


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
