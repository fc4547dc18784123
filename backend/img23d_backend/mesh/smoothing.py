"""Taubin smoothing (lambda|mu): noise smoothed away without the shrinking plain Laplacian smoothing causes.

Each pass moves every vertex towards the average of its neighbours by ``lambda`` (0.5), then away
from the new average by ``mu`` (-0.53): the second step undoes the first's shrinking of large
shapes while small bumps stay smoothed. The weights are uniform over the edges, as pymeshlab's
``apply_coord_taubin_smoothing`` (with its defaults) used them. A vertex on a hole's rim averages
only its rim neighbours, so the rim is smoothed along itself and is not pulled into the hole.
"""

from __future__ import annotations

import numpy as np

from .repair import edge_keys

TAUBIN_LAMBDA = 0.5
TAUBIN_MU = -0.53


def taubin_smooth(vertices: np.ndarray, faces: np.ndarray, passes: int,
                  lam: float = TAUBIN_LAMBDA, mu: float = TAUBIN_MU) -> np.ndarray:
    """The vertices after ``passes`` lambda|mu passes; faces are unchanged."""
    from scipy.sparse import csr_matrix

    if passes <= 0 or len(faces) == 0:
        return vertices
    count = len(vertices)
    half, keys = edge_keys(faces, count)
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    edges = half[first]               # each edge once
    on_rim = counts == 1              # used by one face: a hole's edge
    rim_vertex = np.zeros(count, dtype=bool)
    rim_vertex[edges[on_rim].ravel()] = True
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    # A rim vertex takes only rim edges; every other vertex takes all of its edges.
    take = np.concatenate([on_rim, on_rim]) | ~rim_vertex[rows]
    weights = csr_matrix((np.ones(int(take.sum())), (rows[take], cols[take])), shape=(count, count))
    degree = np.asarray(weights.sum(axis=1)).ravel()
    lonely = degree == 0              # no neighbour to average with: stays where it is
    scale = 1.0 / np.where(lonely, 1.0, degree)

    def step(points: np.ndarray, factor: float) -> np.ndarray:
        average = (weights @ points) * scale[:, None]
        average[lonely] = points[lonely]
        return points + factor * (average - points)

    points = np.asarray(vertices, dtype=np.float64)
    for _ in range(passes):
        points = step(step(points, lam), mu)
    return points
