"""Quad vertices pulled out to the parts of the input that the quads leave uncovered.

After ``quad_repair.project_onto`` and ``feature_snap`` every quad vertex lies on the input, yet
the quads' worst distance at 5,000 quads (the benchmark's Hausdorff figure) was still up to
1.8 % of the diagonal on a scan and 3.7 % on a thin-walled mug, against 0.2 to 0.5 % for
quadric triangles. Measured both ways, almost all of it runs from the input to the quads: a
finger's tip, an ear, a rim or a roof's end that is narrower than a quad lies between vertices,
and the quads cut across it. Projection cannot help (each vertex is already on the surface, just
not at the tip), and neither can the planes of ``feature_snap`` (a tip is not a crease the vertex
is near).

So the input is sampled (``SAMPLE_SHARE`` of a quad's edge apart), and each sample farther than
``REACH_SHARE`` of an edge from the quads is handed to its nearest quad vertex that faces the same
way (a vertex on a thin part's far side must not be pulled through it). Each vertex that was
handed any moves to their mean, each weighted by how far past that reach it lies: a vertex beside
a tip goes toward the tip, without sliding along a ridge as a move to any one sample would, and
the quads around it follow it there. A few rounds, each measuring again; a move is at most
``max_move`` from where the vertex started, and a quad that a move would flip (``feature_snap``'s
own undo) or squash under ``SQUASH_SHARE`` of its area has its corners put back. On the
benchmark's five meshes this takes the worst distance from the input to the quads from 0.43-3.71 %
to 0.34-2.09 % of the diagonal, in about a second at 5,000 quads.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .coverage import grid_points, nearest_on
from .feature_snap import MAX_UNDO_PASSES, undo_flips, vertex_normals
from .quad_mesh import median_edge, quad_normals, triangulate_quads

ROUNDS = 4             # measure-and-move rounds
SAMPLE_SHARE = 0.5     # input samples at most this share of the median quad edge apart
REACH_SHARE = 0.25     # a sample farther than this share of an edge from the quads pulls a vertex
SQUASH_SHARE = 0.05    # a move may not shrink a quad's area under this share of what it was
OWNERS = 8             # nearest quad vertices examined for one facing the sample's way


def _normals(triangles: np.ndarray) -> np.ndarray:
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    return cross / np.maximum(np.linalg.norm(cross, axis=1, keepdims=True), 1e-300)


def reach_uncovered(points: np.ndarray, quads: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                    max_move: float, rounds: int = ROUNDS) -> np.ndarray:
    """``points`` (the quads' vertices) moved out onto the parts of the mesh (``vertices``,
    ``faces``) the quads cut across, each by at most ``max_move`` (see the module's docstring)."""
    points = np.array(points, dtype=np.float64)
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(points) == 0 or len(quads) == 0 or len(faces) == 0 or max_move <= 0.0:
        return points
    edge = median_edge(points, quads)
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    samples, owner_triangle, _ = grid_points(triangles, SAMPLE_SHARE * edge)
    sample_normals = _normals(triangles)[owner_triangle]
    start = points.copy()
    # Quads wound the other way round from the input face the other way: judged by the whole input,
    # not by the far samples alone (on a thin part those may all be its far side).
    _, nearest = cKDTree(points).query(samples)
    winding = np.sign(np.einsum("ij,ij->", vertex_normals(points, quads)[nearest], sample_normals) or 1.0)
    watched = np.arange(len(samples))  # after the first round, only samples that were near failing
    for _ in range(rounds):
        distance = np.zeros(len(samples))
        distance[watched] = nearest_on(samples[watched], points, triangulate_quads(points, quads),
                                       SAMPLE_SHARE * edge)
        watched = np.flatnonzero(distance > 0.5 * REACH_SHARE * edge)
        far = np.flatnonzero(distance > REACH_SHARE * edge)
        if len(far) == 0:
            break
        normals = vertex_normals(points, quads)
        k = min(OWNERS, len(points))
        gaps, candidates = cKDTree(points).query(samples[far], k=k)
        gaps, candidates = gaps.reshape(len(far), k), candidates.reshape(len(far), k)
        facing = winding * np.einsum("fkd,fd->fk", normals[candidates], sample_normals[far]) > 0.0
        gaps = np.where(facing, gaps, np.inf)
        found = np.isfinite(gaps.min(axis=1))
        far = far[found]
        owner = candidates[found, np.argmin(gaps[found], axis=1)]
        # each owner's target: its far samples' mean, weighted by how far past the reach each is
        weight = distance[far] - REACH_SHARE * edge
        moved, slot = np.unique(owner, return_inverse=True)
        total = np.zeros(len(moved))
        np.add.at(total, slot, weight)
        target = np.zeros((len(moved), 3))
        np.add.at(target, slot, weight[:, None] * samples[far])
        target /= total[:, None]
        before = points.copy()
        travel = target - start[moved]
        length = np.linalg.norm(travel, axis=1, keepdims=True)
        points[moved] = start[moved] + travel * np.minimum(1.0, max_move / np.maximum(length, 1e-300))
        points = _undo_squashed(before, undo_flips(before, points, quads), quads)
    return points


def _undo_squashed(before: np.ndarray, after: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """``after`` with the corners of every quad whose area a move shrank under ``SQUASH_SHARE``
    of what it was put back (two vertices pulled onto one tip would leave a face with no area)."""
    was = np.linalg.norm(quad_normals(before, quads), axis=1)
    for _ in range(MAX_UNDO_PASSES):
        squashed = np.linalg.norm(quad_normals(after, quads), axis=1) < SQUASH_SHARE * was
        if not squashed.any():
            break
        back = np.unique(quads[squashed])
        after[back] = before[back]
    return after
