"""Topology repairs on a triangle mesh held as numpy arrays: shared vertices, bad faces, pieces.

What the clean-up used pymeshlab for (merge duplicate vertices, remove duplicate and null faces,
select small disconnected components, remove unreferenced vertices), done with numpy and scipy
so that the backend needs no library that loads libGL. Every function takes and returns plain
arrays: ``vertices`` (n, 3) float64, ``faces`` (m, 3) int64.
"""

from __future__ import annotations

import numpy as np

# The three edges of a face, in the face's own winding: (0, 1), (1, 2), (2, 0).
FACE_EDGES = np.array([[0, 1], [1, 2], [2, 0]])


def edge_keys(faces: np.ndarray, vertex_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each face's three edges as (directed half-edges (3m, 2), undirected keys (3m,)).

    Half-edge ``3 * f + j`` is edge j of face f; its key is the same for both directions
    (``low * vertex_count + high``), so equal keys mean the same edge.
    """
    # Column by column: numpy's reductions over an axis of length 2 cost more than the sort that follows.
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    half = np.stack([np.stack([a, b], axis=1), np.stack([b, c], axis=1), np.stack([c, a], axis=1)],
                    axis=1).reshape(-1, 2)
    first, second = half[:, 0], half[:, 1]
    low, high = np.minimum(first, second), np.maximum(first, second)
    return half, low.astype(np.int64) * vertex_count + high


def merge_duplicate_vertices(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One vertex per exact position (the first of each, in their order); faces re-pointed."""
    if len(vertices) == 0:
        return vertices, faces
    rows = np.ascontiguousarray(np.asarray(vertices, dtype=np.float64) + 0.0)
    first, inverse = _first_of_equal_rows(rows)
    if len(first) == len(vertices):
        return rows, faces
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rows[first[order]], rank[inverse.ravel()][faces]


def _first_of_equal_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique``'s ``return_index`` and ``return_inverse`` for the rows of ``rows`` (float64, contiguous).

    Adding 0.0 before this turns -0.0 into 0.0, which are the same position but different bytes. The
    rows' bits are hashed into one uint64 each, so numpy sorts integers rather than 24-byte rows (about a
    third of the time); rows that share a hash but differ (never seen, but possible) send it back to the
    exact comparison of the rows' bytes.
    """
    bits = rows.view(np.uint64)
    with np.errstate(over="ignore"):  # the hash wraps round on purpose
        hashed = (bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)) ^ (bits[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F)) \
            ^ (bits[:, 2] * np.uint64(0x165667B19E3779F9))
    _, first, inverse = np.unique(hashed, return_index=True, return_inverse=True)
    if np.array_equal(bits[first][inverse.ravel()], bits):
        return first, inverse
    keys = rows.view(np.dtype((np.void, rows.itemsize * 3))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse


def drop_bad_faces(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces without the degenerate ones (a repeated vertex, or zero area) and without repeats.

    A repeat is a face on the same three vertices as an earlier one, whichever its winding (as
    pymeshlab's duplicate-face filter counts them); the first is kept. Order is kept.
    """
    if len(faces) == 0:
        return faces
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    # The cross product written out: np.cross's general path costs several times this.
    origin = vertices[a]
    u, v = vertices[b] - origin, vertices[c] - origin
    area2 = (np.square(u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1]) + np.square(u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2])
             + np.square(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]))
    faces = faces[(a != b) & (b != c) & (a != c) & (area2 > 0)]
    a, b, c = faces[:, 0].astype(np.int64), faces[:, 1].astype(np.int64), faces[:, 2].astype(np.int64)
    # Each face's vertices in ascending order, without a sort along rows of three.
    low, high = np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)
    middle = a + b + c - low - high
    count = int(high.max(initial=0)) + 1
    if count ** 3 < 2 ** 63:  # one int64 per face: a much quicker sort than rows of three
        keys = (low * count + middle) * count + high
    else:
        ordered = np.ascontiguousarray(np.stack([low, middle, high], axis=1))
        keys = ordered.view(np.dtype((np.void, ordered.itemsize * 3))).ravel()
    _, first = np.unique(keys, return_index=True)
    return faces[np.sort(first)]


def piece_labels(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """A label per face: faces that share an edge (directly or through others) share a label.

    Edge connectivity, as pymeshlab's connected components (face-face adjacency): two pieces that
    touch at a single vertex are two pieces. Marching cubes makes such contacts where noise
    brushes the surface, and the old clean-up removed that noise; an edge used by more than two
    faces joins them all.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    _, keys = edge_keys(faces, vertex_count)
    # Stable (timsort): the keys come in runs, face by face, which it uses; about 0.6x numpy's default here.
    order = np.argsort(keys, kind="stable")
    face_of = order // 3  # half-edge 3f + j belongs to face f
    same = keys[order[1:]] == keys[order[:-1]]
    a, b = face_of[:-1][same], face_of[1:][same]
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(len(faces), len(faces)))
    return connected_components(graph, directed=False)[1]


def drop_small_pieces(faces: np.ndarray, vertex_count: int, ratio: float) -> np.ndarray:
    """Faces without the pieces that have fewer than ``ratio`` x the largest piece's faces."""
    if ratio <= 0 or len(faces) == 0:
        return faces
    labels = piece_labels(faces, vertex_count)
    sizes = np.bincount(labels)
    return faces[sizes[labels] >= ratio * sizes.max()]


def drop_unreferenced(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Only the vertices some face uses, in their order; faces re-pointed."""
    used = np.zeros(len(vertices), dtype=bool)
    used[faces.ravel()] = True
    if used.all():
        return vertices, faces
    index = np.cumsum(used) - 1
    return vertices[used], index[faces]
