"""Repairs of the two defects Instant Meshes' pure-quad extraction leaves on AI meshes, made before
its result is checked (so that a fixable mesh is not thrown away for quadric triangles).

* **Folded quads.** Where the coarse mesh had a near-degenerate face, extraction can emit a quad
  whose opposite corners are one vertex, or two vertices at one position (``[a, b, a, c]``): a face
  with no area, doubled back on itself, often twice. Such a quad covers nothing: it is dropped, and
  its coincident corners are welded into one vertex, which zips the two sides it ran along into one
  edge (as ``quad_mesh`` zips a slit). Welding can fold another quad; that is repeated until none is
  left (a few rounds at most on real meshes; ``MAX_ROUNDS`` bounds it).
* **Vertices on the wrong side of the surface.** Instant Meshes places each vertex by its position
  field, which is smoothed: on a curved or creased part the vertex floats off the input's surface.
  ``project_onto`` moves each vertex to the nearest point of the input (bounded by a share of an
  edge's length, so no vertex can jump across a thin part to its other side).
* **Doublets.** Two quads that share two edges meeting at a vertex that only they use (a vertex of
  valence two, which the extraction leaves where its field turns): each quad's diagonal through
  that vertex's two neighbours is the other's too. Whichever diagonal a triangulation picks (the
  bake picks MikkTSpace's, in UV space), both may pick that one: four triangles on one edge, a
  file that is not manifold, and an import that is torn there. Fitting the vertices to the
  surface (``surface_reach``) changed which diagonal won and made it happen on the example house.
  ``dissolve_doublets`` joins the two into one quad without that vertex, repeated while joins
  leave new ones.
* **Two vertices on one point.** Fitting puts vertices on the input's surface, and near a tip
  (the armadillo's fingers at 5,000 quads) two vertices that share no edge can land on the same
  point: a reader that joins a file's copies by position (the float32 file keeps no other way to
  tell them apart) then joins two vertices that are not one, and the file has open and crowded
  edges there. ``separate_coincident`` moves each such vertex a little way (``SEPARATE_SHARE`` of
  the way) toward the middle of its own quads.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..mesh.repair import drop_unreferenced
from .bake.surface import closest_on_triangles

MAX_ROUNDS = 8        # welding rounds before giving up (then the check says what is left)
COINCIDENT = 1e-9     # corners closer than this share of the bounding-box diagonal are one point
CANDIDATES = 16       # input triangles examined per projected vertex (nearest by centroid)
COINCIDENT_GAP = 1e-5  # vertices closer than this share of the diagonal are one point to a file's reader
SEPARATE_SHARE = 0.05  # how far toward the middle of its quads a vertex on another's point moves


def _root(parent: np.ndarray, index: int) -> int:
    while parent[index] != index:
        parent[index] = parent[parent[index]]
        index = int(parent[index])
    return index


def unfold_quads(vertices: np.ndarray, quads: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Drop every folded quad and weld its coincident corners; (vertices, quads, quads dropped)."""
    points = np.asarray(vertices, dtype=np.float64)
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(quads) == 0:
        return vertices, quads, 0
    tolerance = COINCIDENT * float(np.linalg.norm(np.ptp(points, axis=0)))
    dropped = 0
    for _ in range(MAX_ROUNDS):
        corners = points[quads]
        across_02 = np.linalg.norm(corners[:, 0] - corners[:, 2], axis=1) <= tolerance
        across_13 = np.linalg.norm(corners[:, 1] - corners[:, 3], axis=1) <= tolerance
        folded = across_02 | across_13
        if not folded.any():
            break
        parent = np.arange(len(points))
        for face, first, second in zip(quads[folded], across_02[folded], across_13[folded]):
            for a, b, coincide in ((face[0], face[2], first), (face[1], face[3], second)):
                if coincide:
                    low, high = sorted((_root(parent, int(a)), _root(parent, int(b))))
                    parent[high] = low
        roots = np.array([_root(parent, i) for i in range(len(points))])
        dropped += int(folded.sum())
        quads = roots[quads[~folded]]
    points, quads = drop_unreferenced(points, quads)
    return points.astype(np.asarray(vertices).dtype), quads, dropped


def dissolve_doublets(vertices: np.ndarray, quads: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Every doublet joined into one quad and its middle vertex dropped; (vertices, quads, joined).
    Quads ``(v, p, x, q)`` and ``(v, q, y, p)`` become ``(p, x, q, y)``: the same outline, the
    edges ``v-p`` and ``v-q`` gone, every other edge used as before (so a manifold mesh stays so)."""
    quads = np.array(quads, dtype=np.int64).reshape(-1, 4)
    joined = 0
    for _ in range(MAX_ROUNDS):
        keep = np.ones(len(quads), dtype=bool)
        touched = np.zeros(len(vertices), dtype=bool)  # one join per quad and per corner a round
        valence = np.bincount(quads.ravel(), minlength=len(vertices))
        for v in np.flatnonzero(valence == 2).tolist():
            rows, slots = np.nonzero(quads == v)
            if len(rows) != 2 or not keep[rows].all():
                continue
            p, x, q = np.roll(quads[rows[0]], -int(slots[0]))[1:].tolist()  # (v, p, x, q)
            _, q2, y, p2 = np.roll(quads[rows[1]], -int(slots[1])).tolist()  # (v, q, y, p) in a doublet
            if (q2, p2) != (q, p) or y == x or touched[[p, q, x, y]].any():
                continue  # not two quads on two shared edges (or a pillow: both quads on the same four)
            quads[rows[0]] = (p, x, q, y)  # in the first one's place: the quads keep their order
            keep[rows[1]] = False
            touched[[p, q, x, y]] = True
        if keep.all():
            break
        joined += int((~keep).sum())
        quads = quads[keep]
    points, quads = drop_unreferenced(np.asarray(vertices), quads)
    return points, quads, joined


def separate_coincident(points: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """``points`` with every vertex that lies on another's point (within ``COINCIDENT_GAP`` of the
    diagonal) but the lowest-numbered moved toward the middle of its quads, until none is left."""
    points = np.array(points, dtype=np.float64)
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(points) < 2 or len(quads) == 0:
        return points
    gap = COINCIDENT_GAP * float(np.linalg.norm(np.ptp(points, axis=0)))
    for _ in range(MAX_ROUNDS):
        pairs = cKDTree(points).query_pairs(gap, output_type="ndarray")
        if len(pairs) == 0:
            break
        moved = np.unique(pairs.max(axis=1))
        middle = np.zeros_like(points)
        np.add.at(middle, quads.ravel(), np.repeat(points[quads].mean(axis=1), 4, axis=0))
        count = np.bincount(quads.ravel(), minlength=len(points))[:, None]
        middle = middle / np.maximum(count, 1)
        points[moved] += SEPARATE_SHARE * (middle[moved] - points[moved])
    return points


def project_onto(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, max_move: float) -> np.ndarray:
    """Each point moved to the nearest point of the mesh (``vertices``, ``faces``), by at most ``max_move``."""
    points = np.asarray(points, dtype=np.float64)
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if len(points) == 0 or len(faces) == 0:
        return points
    k = min(CANDIDATES, len(faces))
    _, candidates = cKDTree(vertices[faces].mean(axis=1)).query(points, k=k)
    candidates = candidates.reshape(len(points), k)
    triangles = vertices[faces[candidates]]  # (N, k, 3, 3)
    squared, bary = closest_on_triangles(points[:, None, :], triangles[:, :, 0], triangles[:, :, 1],
                                         triangles[:, :, 2])
    pick = np.argmin(squared, axis=1)
    rows = np.arange(len(points))
    nearest = np.einsum("nk,nkd->nd", bary[rows, pick], triangles[rows, pick])
    move = nearest - points
    length = np.linalg.norm(move, axis=1, keepdims=True)
    scale = np.minimum(1.0, max_move / np.maximum(length, 1e-300))
    return points + move * scale
