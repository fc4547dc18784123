"""Quad vertices moved onto the input's corners and sharp edges, as dual contouring places its vertices.

Instant Meshes' quads are all about one size, and its vertices sit where its smoothed position
field put them: on a flat wall that is right, but a box's corner or a roof's ridge falls between
vertices and is cut off, by up to half a quad (on the example house at 5,000 quads that was 2 % of
the diagonal, the benchmark's Hausdorff distance, against 0.2 % for quadric triangles, whose vertices
go where the error is least). Projecting each vertex onto the nearest point of the surface
(``quad_repair.project_onto``) cannot help: the vertex is already on a wall, just not at its edge.

Dual contouring's answer (Ju, Losasso, Schaefer and Warren 2002) is the quadratic error function:
each vertex takes the input's triangles nearest to it (its Voronoi cell on the input, sampled by
``_plane_samples``), each as the plane it lies in weighted by its area, and moves to the point
nearest all those planes. Near one plane that is a move onto it; where two planes meet it is a
move onto their crease; where three meet, onto the corner. Directions in which the planes do not
pin the point down (their weight is under ``RANK_SHARE`` of the strongest: the truncated
eigen-decomposition of dual contouring and of Lindstrom's placement) are left as they are, so a
vertex on a gently curved part only moves along its normal. Three safeguards keep it from
spoiling what Instant Meshes made:

* a triangle facing away from the vertex's own normal is not one of its planes: on a thin part
  (a blade, a sheet, a cup's wall) the nearest triangles of the far side would otherwise pull the
  vertex into the middle of the part;
* a move is at most ``max_move`` (half a quad's edge from ``retopo``);
* a quad that a move would flip or squash (its normal turned more than about 78 degrees from
  before) has its corners put back, repeatedly, until none is.

A few rounds, each assigning the triangles again to the moved vertices: a vertex that reached a
crease in the first round takes the corner's triangles in the next.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .quad_mesh import quad_normals

ROUNDS = 4             # assignment and move rounds (about 0.13 s in all for 5,000 quads on 40,000 triangles)
RANK_SHARE = 0.05      # plane directions weaker than this share of the strongest leave the point free
FLIP_COS = 0.2         # a quad whose normal turns further than acos(0.2), about 78 degrees, is undone
MAX_UNDO_PASSES = 10   # undo passes per round (putting corners back can flip a neighbour back)
SAMPLE_SHARE = 1.0     # the planes are sampled at most this share of a move apart on the input
MAX_SAMPLES = 400_000  # ... but no more points than this in all (bounds the memory: about 50 MB)


def vertex_normals(points: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Unit normals per vertex: the area-weighted sum of its quads' normals."""
    normals = quad_normals(points, quads)
    summed = np.zeros_like(points)
    for corner in range(4):
        np.add.at(summed, quads[:, corner], normals)
    return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-300)


def _plane_samples(triangles: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points on the input's triangles, at most about ``spacing`` apart, each with its triangle's unit
    normal and its share of the triangle's area: (points, normals, weights). A dense mesh (triangles
    smaller than the spacing, as a generator's are) is its centroids; a coarse one (a user's
    low-poly mesh) gets a barycentric grid on each large triangle, so that a vertex near a corner
    still finds the corner's planes among its nearest samples."""
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    doubled_area = np.linalg.norm(cross, axis=1)
    keep = doubled_area > 0.0
    triangles, cross, doubled_area = triangles[keep], cross[keep], doubled_area[keep]
    longest = np.linalg.norm(triangles - np.roll(triangles, 1, axis=1), axis=2).max(axis=1)
    splits = np.clip(np.ceil(longest / max(spacing, 1e-300)), 1, None).astype(np.int64)
    while int((splits * splits).sum()) > MAX_SAMPLES and splits.max() > 1:
        splits = np.maximum(1, splits // 2)
    points, normals, weights = [], [], []
    for k in np.unique(splits):
        chosen = splits == k
        # the centroids of the k * k sub-triangles of a regular split, as barycentric weights
        grid = [(i, j) for i in range(k) for j in range(k - i)]
        up = np.array([(3 * i + 1, 3 * j + 1) for i, j in grid], dtype=np.float64) / (3 * k)
        down = np.array([(3 * i + 2, 3 * j + 2) for i, j in grid if i + j < k - 1], dtype=np.float64) / (3 * k)
        uv = np.vstack([up, down.reshape(-1, 2)])
        bary = np.column_stack([1.0 - uv.sum(axis=1), uv])
        corners = triangles[chosen]
        points.append(np.einsum("sc,tcd->tsd", bary, corners).reshape(-1, 3))
        normals.append(np.repeat(cross[chosen] / doubled_area[chosen, None], len(bary), axis=0))
        weights.append(np.repeat(doubled_area[chosen] / len(bary), len(bary)))
    return np.concatenate(points), np.concatenate(normals), np.concatenate(weights)


def _qef_steps(points: np.ndarray, owner: np.ndarray, normal: np.ndarray, offset: np.ndarray,
               weight: np.ndarray) -> np.ndarray:
    """Per point, the move to the least-squares point of its planes (``offset`` is each plane's
    signed distance ahead of its owner), with weak directions left free."""
    system = np.zeros((len(points), 3, 3))
    right = np.zeros((len(points), 3))
    np.add.at(system, owner, weight[:, None, None] * normal[:, :, None] * normal[:, None, :])
    np.add.at(right, owner, (weight * offset)[:, None] * normal)
    strengths, axes = np.linalg.eigh(system)  # ascending; axes[:, :, i] is direction i
    pinned = (strengths > RANK_SHARE * strengths[:, -1:]) & (strengths > 0.0)
    along = np.einsum("vki,vk->vi", axes, right)
    along = np.where(pinned, along / np.where(pinned, strengths, 1.0), 0.0)
    return np.einsum("vki,vi->vk", axes, along)


def undo_flips(before: np.ndarray, after: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """``after`` with the corners of every quad it flipped or squashed put back to ``before``."""
    was = quad_normals(before, quads)
    was_length = np.linalg.norm(was, axis=1)
    for _ in range(MAX_UNDO_PASSES):
        now = quad_normals(after, quads)
        cosine_ok = np.einsum("ij,ij->i", was, now) > FLIP_COS * was_length * np.linalg.norm(now, axis=1)
        if cosine_ok.all():
            break
        back = np.unique(quads[~cosine_ok])
        after[back] = before[back]
    return after


def snap_to_features(points: np.ndarray, quads: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                     max_move: float, rounds: int = ROUNDS) -> np.ndarray:
    """``points`` (the quads' vertices) moved onto the corners, creases and planes of the mesh
    (``vertices``, ``faces``) nearest them, each by at most ``max_move`` (see the module's docstring)."""
    points = np.array(points, dtype=np.float64)
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(points) == 0 or len(quads) == 0 or len(faces) == 0 or max_move <= 0.0:
        return points
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces, dtype=np.int64)]
    centre, normal, weight = _plane_samples(triangles, SAMPLE_SHARE * max_move)
    if len(centre) == 0:
        return points
    for _ in range(rounds):
        before = points.copy()
        _, owner = cKDTree(points).query(centre)
        agreement = np.einsum("ij,ij->i", normal, vertex_normals(points, quads)[owner])
        # Quads wound the other way round from the input face the other way: judged by the whole.
        facing = agreement * np.sign(agreement.sum() or 1.0) > 0.0
        owned = owner[facing]
        offset = np.einsum("ij,ij->i", normal[facing], centre[facing] - points[owned])
        step = _qef_steps(points, owned, normal[facing], offset, weight[facing])
        length = np.linalg.norm(step, axis=1, keepdims=True)
        points = before + step * np.minimum(1.0, max_move / np.maximum(length, 1e-300))
        points = undo_flips(before, points, quads)
    return points
