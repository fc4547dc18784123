"""Weights carried from one mesh to another: the high mesh's rig onto the retopologized low mesh.

Each target vertex finds the closest point on the source's triangles, blends the three corners' weights
by that point's barycentric coordinates, and keeps the strongest four, renormalised
(``skin.Skin.from_dense``): nearest-surface transfer, as Blender's Data Transfer modifier's "Nearest Face
Interpolated" does for vertex groups. The closest point is searched among the ``CANDIDATES`` triangles
whose centres are nearest (a KD-tree; trimesh's own query needs rtree, which img23d does not ship), each
tested exactly (Ericson, "Real-Time Collision Detection", 5.1.5: the point's region of the triangle).
"""

from __future__ import annotations

import numpy as np

from .skin import Skin

CANDIDATES = 16


def transfer_skin(source_positions: np.ndarray, source_triangles: np.ndarray, source_skin: Skin,
                  joint_count: int, target_positions: np.ndarray) -> Skin:
    """``source_skin`` carried onto ``target_positions`` (see the module's docstring)."""
    from scipy.spatial import cKDTree

    positions = np.asarray(source_positions, dtype=np.float64)
    faces = np.asarray(source_triangles, dtype=np.int64)
    targets = np.asarray(target_positions, dtype=np.float64)
    corners = positions[faces]
    k = min(CANDIDATES, len(faces))
    _, near = cKDTree(corners.mean(axis=1)).query(targets, k=k)
    near = near.reshape(len(targets), k)
    bary = closest_barycentric(targets[:, None, :], corners[near])                 # (T, k, 3)
    points = np.einsum("tkc,tkcd->tkd", bary, corners[near])
    best = np.argmin(np.linalg.norm(points - targets[:, None, :], axis=2), axis=1)
    rows = np.arange(len(targets))
    chosen, weights = near[rows, best], bary[rows, best]
    dense = source_skin.dense(joint_count)[faces[chosen]]                          # (T, 3, J)
    return Skin.from_dense(np.einsum("tc,tcj->tj", weights, dense))


def closest_barycentric(p: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """The barycentric coordinates of the point of each triangle (..., 3, 3) closest to ``p`` (..., 3)."""
    a, b, c = triangles[..., 0, :], triangles[..., 1, :], triangles[..., 2, :]
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    bp, cp = p - b, p - c
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        # Inside the face first, then each edge and corner region overrides where it holds.
        total = va + vb + vc
        v, w = vb / total, vc / total
        out = np.stack([1 - v - w, v, w], axis=-1)
        t = d1 / (d1 - d3)
        out = np.where(((vc <= 0) & (d1 >= 0) & (d3 <= 0))[..., None], np.stack([1 - t, t, 0 * t], -1), out)
        t = d2 / (d2 - d6)
        out = np.where(((vb <= 0) & (d2 >= 0) & (d6 <= 0))[..., None], np.stack([1 - t, 0 * t, t], -1), out)
        t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        out = np.where(((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0))[..., None], np.stack([0 * t, 1 - t, t], -1), out)
    one = np.ones_like(d1)
    zero = np.zeros_like(d1)
    out = np.where(((d1 <= 0) & (d2 <= 0))[..., None], np.stack([one, zero, zero], -1), out)
    out = np.where(((d3 >= 0) & (d4 <= d3))[..., None], np.stack([zero, one, zero], -1), out)
    out = np.where(((d6 >= 0) & (d5 <= d6))[..., None], np.stack([zero, zero, one], -1), out)
    # A degenerate (zero-area) triangle leaves nan: its first corner stands for it.
    return np.where(np.isfinite(out).all(-1, keepdims=True), out, np.stack([one, zero, zero], -1))
