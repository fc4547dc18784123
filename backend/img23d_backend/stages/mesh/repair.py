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
    half = faces[:, FACE_EDGES].reshape(-1, 2)
    low, high = half.min(axis=1), half.max(axis=1)
    return half, low.astype(np.int64) * vertex_count + high


def merge_duplicate_vertices(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One vertex per exact position (the first of each, in their order); faces re-pointed."""
    if len(vertices) == 0:
        return vertices, faces
    # Rows compared as raw bytes: one 1-D sort instead of numpy's slower unique over rows.
    # Adding 0.0 turns -0.0 into 0.0, which are the same position but different bytes.
    rows = np.ascontiguousarray(np.asarray(vertices, dtype=np.float64) + 0.0)
    keys = rows.view(np.dtype((np.void, rows.itemsize * 3))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if len(first) == len(vertices):
        return rows, faces
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rows[first[order]], rank[inverse.ravel()][faces]


def drop_bad_faces(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Faces without the degenerate ones (a repeated vertex, or zero area) and without repeats.

    A repeat is a face on the same three vertices as an earlier one, whichever its winding (as
    pymeshlab's duplicate-face filter counts them); the first is kept. Order is kept.
    """
    if len(faces) == 0:
        return faces
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    corners = vertices[faces]
    area2 = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    faces = faces[(a != b) & (b != c) & (a != c) & (area2 > 0)]
    ordered = np.sort(faces, axis=1).astype(np.int64)
    count = int(ordered.max(initial=0)) + 1
    if count ** 3 < 2 ** 63:  # one int64 per face: a much quicker sort than rows of three
        keys = (ordered[:, 0] * count + ordered[:, 1]) * count + ordered[:, 2]
    else:
        keys = np.ascontiguousarray(ordered).view(np.dtype((np.void, ordered.itemsize * 3))).ravel()
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
    order = np.argsort(keys)
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
