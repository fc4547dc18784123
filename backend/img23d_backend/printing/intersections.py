"""Whether a closed surface passes through itself: the triangle pairs that cross, found without a kernel.

manifold3d proves a mesh closed and manifold, but takes a self-intersecting one as it is (a fold, two bodies
fused into one surface); a slicer then prints the overlap twice or not at all. So each printed file is read
back and its triangles tested here: candidate pairs from a uniform grid of cells (each triangle listed in every
cell its bounding box touches), then, for the pairs whose boxes overlap and that share no vertex, an exact-sided
test: two triangles that are not coplanar cross when an edge of one passes through the other (Moller and
Trumbore's segment test, six per pair). Pairs that share a vertex or an edge meet there by construction and are
not tested; coplanar overlaps (a face repeated) are the repair's to remove, and are not counted here, nor is a
crossing shallower than ``DEPTH_SHARE`` of the mesh's size (rounding, not geometry).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

MAX_CELL_ENTRIES = 3_000_000   # triangle-cell entries the grid may hold before its cells are made larger
_CHUNK = 200_000               # pairs tested at a time
_MARGIN = 1e-9
# How far an edge must pass through a triangle to cross it, as a share of the mesh's size: a file's 32-bit
# positions (0.008 um apart at 100 mm) leave two nearly coplanar slivers where a flat base was cut a rounding's
# width through each other, which no printer can tell from touching; 1e-6 of an 80 mm object is 0.08 um.
DEPTH_SHARE = 1e-6


def crossing_pairs(vertices: np.ndarray, faces: np.ndarray, limit: int = 1000) -> np.ndarray:
    """Up to ``limit`` pairs of face indices (k, 2) whose triangles cross; empty for a surface that does not
    pass through itself."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    corners = vertices[faces]
    low, high = corners.min(axis=1), corners.max(axis=1)
    depth = DEPTH_SHARE * float(np.linalg.norm(high.max(axis=0) - low.min(axis=0)))
    found: list[np.ndarray] = []
    for pairs in _candidates(low, high):
        pairs = pairs[_boxes_overlap(low, high, pairs) & ~_share_vertex(faces, pairs)]
        for start in range(0, len(pairs), _CHUNK):
            chunk = pairs[start:start + _CHUNK]
            hit = _cross(corners[chunk[:, 0]], corners[chunk[:, 1]], depth)
            if hit.any():
                found.append(chunk[hit])
                if sum(len(f) for f in found) >= limit:
                    return np.concatenate(found)[:limit]
    return np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)


def _candidates(low: np.ndarray, high: np.ndarray) -> Iterator[np.ndarray]:
    """Pairs of triangles listed in one cell, cell group by cell group (each pair possibly more than once
    across groups: the exact test is cheap beside keeping a set of them all)."""
    extent = high - low
    cell = max(float(np.median(extent.max(axis=1))) * 2.0, 1e-12)
    origin = low.min(axis=0)
    while True:
        first = np.floor((low - origin) / cell).astype(np.int64)
        last = np.floor((high - origin) / cell).astype(np.int64)
        span = last - first + 1
        counts = span.prod(axis=1)
        if counts.sum() <= MAX_CELL_ENTRIES:
            break
        cell *= 2.0
    owner = np.repeat(np.arange(len(low)), counts)
    local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    sx, sy = span[owner, 0], span[owner, 1]
    ix = first[owner, 0] + local % sx
    iy = first[owner, 1] + (local // sx) % sy
    iz = first[owner, 2] + local // (sx * sy)
    dims = last.max(axis=0) + 1
    keys = (iz * dims[1] + iy) * dims[0] + ix
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order]
    # Each entry pairs with the next ``step`` entries of its own cell: step 1, 2, ... up to the fullest cell.
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    fullest = int(np.diff(np.r_[starts, len(keys)]).max())
    for step in range(1, fullest):
        same = keys[step:] == keys[:-step]
        if not same.any():
            break
        yield np.stack([owner[:-step][same], owner[step:][same]], axis=1)


def _boxes_overlap(low: np.ndarray, high: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    a, b = pairs[:, 0], pairs[:, 1]
    return (a != b) & np.all((low[a] <= high[b]) & (low[b] <= high[a]), axis=1)


def _share_vertex(faces: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    fa, fb = faces[pairs[:, 0]], faces[pairs[:, 1]]
    return (fa[:, :, None] == fb[:, None, :]).any(axis=(1, 2))


def _cross(a: np.ndarray, b: np.ndarray, depth: float) -> np.ndarray:
    """Whether triangles ``a[i]`` and ``b[i]`` (each (k, 3, 3)) cross: an edge of one through the other, its ends
    more than ``depth`` either side of the other's plane."""
    hit = np.zeros(len(a), dtype=bool)
    for tri, other in ((a, b), (b, a)):
        for i, j in ((0, 1), (1, 2), (2, 0)):
            hit |= _segment_hits(tri[:, i], tri[:, j], other, depth)
    return hit


def _segment_hits(p: np.ndarray, q: np.ndarray, tri: np.ndarray, depth: float) -> np.ndarray:
    """Whether segment p-q passes through the triangle's interior (Moller-Trumbore), each end more than ``depth``
    from its plane."""
    direction = q - p
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    pvec = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, pvec)
    scale = np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1) * np.linalg.norm(direction, axis=1)
    usable = np.abs(det) > 1e-12 * np.maximum(scale, 1e-300)  # not parallel to the triangle's plane
    inverse = np.where(usable, 1.0 / np.where(usable, det, 1.0), 0.0)
    tvec = p - tri[:, 0]
    u = np.einsum("ij,ij->i", tvec, pvec) * inverse
    qvec = np.cross(tvec, e1)
    v = np.einsum("ij,ij->i", direction, qvec) * inverse
    t = np.einsum("ij,ij->i", e2, qvec) * inverse
    # Strictly inside, by a relative margin: a vertex lying on the other triangle, or an edge along its edge,
    # is a touch, not a crossing (t, u and v are shares of the segment and of the triangle's edges).
    normal = np.cross(e1, e2)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
    ends = np.minimum(np.abs(np.einsum("ij,ij->i", p - tri[:, 0], normal)),
                      np.abs(np.einsum("ij,ij->i", q - tri[:, 0], normal)))
    return usable & (t > _MARGIN) & (t < 1 - _MARGIN) & (u > _MARGIN) & (v > _MARGIN) & (u + v < 1 - _MARGIN) & \
        (ends > depth)
