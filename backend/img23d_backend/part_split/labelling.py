"""Every face one name: the votes smoothed over the surface so that labels agree with their
neighbours and change where the surface bends (its creases), then small islands merged away.

The smoothing is a random walker on the face graph (Grady, "Random Walks for Image Segmentation",
2006, with data terms as in its "prior" form): for each name, the share ``P`` of every face
minimises ``sum_f c_f (P_f - U_f)^2 + strength * sum_(f,g) w_fg (P_f - P_g)^2``, where ``U_f`` is the
face's share of votes, ``c_f`` how sure the votes are (many voting pixels: near 1; none: 0), and
``w_fg`` the shared edge's length times ``exp(-(bend / CREASE)^2)``: across a crease the faces barely
pull on each other, so the boundary between two names settles on it. Faces no render saw have
``c_f = 0`` and take their neighbours' name; a piece of the mesh with no vote anywhere takes the name
of the nearest face that has one. One sparse symmetric system serves every name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import cg, factorized
from scipy.spatial import cKDTree

from .lifting import Votes
from .surface import Surface

CREASE = math.radians(30)   # a bend of 30 degrees keeps exp(-1) of the pull; 60 degrees under 2 %
SURE_PIXELS = 4.0           # votes of this many pixels make a face half sure (c = votes / (votes + 4))
# Up to this many faces the system is factorised once (exact, seconds); larger ones iterate.
DIRECT_LIMIT = 300_000
ISLAND_SHARE = 0.02         # a connected piece of a name under 2 % of the name's area joins its neighbour
UNLABELLED = -1


@dataclass(frozen=True)
class LabelSettings:
    """How strongly the labels are smoothed (0: the votes alone) and whether islands are merged."""

    strength: float = 1.0
    merge_islands: bool = True


def label_faces(surface: Surface, votes: Votes, settings: LabelSettings = LabelSettings()) -> np.ndarray:
    """(F,) int64: each face's name (an index into the votes' names). Every face gets one, as long as
    some face has a vote; with none at all every face is ``UNLABELLED``."""
    faces, names = votes.scores.shape
    if names == 0 or not (votes.voted > 0).any():
        return np.full(faces, UNLABELLED, dtype=np.int64)
    voted = votes.voted
    share = np.divide(votes.scores, voted[:, None], out=np.zeros_like(votes.scores), where=voted[:, None] > 0)
    sure = voted / (voted + SURE_PIXELS)
    if settings.strength > 0:
        share = _random_walk(surface, share, sure, settings.strength)
    labels = np.where(share.max(axis=1) > 1e-9, share.argmax(axis=1), UNLABELLED).astype(np.int64)
    labels = _nearest_fill(surface, labels)
    if settings.merge_islands:
        labels = merge_islands(surface, labels)
    return labels


def _random_walk(surface: Surface, share: np.ndarray, sure: np.ndarray, strength: float) -> np.ndarray:
    faces = len(share)
    weight = surface.edge_lengths / max(float(np.mean(surface.edge_lengths)), 1e-12) \
        if len(surface.edge_lengths) else surface.edge_lengths
    weight = strength * weight * np.exp(-(surface.bends / CREASE) ** 2)
    a, b = surface.pairs[:, 0], surface.pairs[:, 1]
    adjacency = sparse.coo_matrix((np.concatenate([weight, weight]), (np.concatenate([a, b]),
                                   np.concatenate([b, a]))), shape=(faces, faces)).tocsr()
    laplacian = sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency
    # A face with no vote and no neighbour would make the system singular: a whisker of self-weight.
    system = (laplacian + sparse.diags(sure + 1e-9)).tocsc()
    right = share * sure[:, None]
    if faces <= DIRECT_LIMIT:
        solve = factorized(system)
        return np.stack([solve(right[:, k]) for k in range(right.shape[1])], axis=1)
    diagonal = system.diagonal()
    preconditioner = sparse.diags(1.0 / diagonal)
    columns = [cg(system, right[:, k], x0=share[:, k], M=preconditioner, rtol=1e-6, maxiter=2000)[0]
               for k in range(right.shape[1])]
    return np.stack(columns, axis=1)


def _nearest_fill(surface: Surface, labels: np.ndarray) -> np.ndarray:
    """Faces still without a name (a piece of the mesh no vote reached) take the nearest named face's."""
    missing = labels == UNLABELLED
    if not missing.any() or missing.all():
        return labels
    centroids = surface.centroids
    _, nearest = cKDTree(centroids[~missing]).query(centroids[missing])
    filled = labels.copy()
    filled[missing] = labels[~missing][nearest]
    return filled


def merge_islands(surface: Surface, labels: np.ndarray, share: float = ISLAND_SHARE) -> np.ndarray:
    """Each connected piece of a name smaller than ``share`` of that name's area takes the name its
    border touches most (by edge length): stray votes leave no specks, a name's main piece stays."""
    a, b = surface.pairs[:, 0], surface.pairs[:, 1]
    same = labels[a] == labels[b]
    graph = sparse.coo_matrix((np.ones(int(same.sum())), (a[same], b[same])),
                              shape=(len(labels), len(labels)))
    count, piece = csgraph.connected_components(graph, directed=False)
    piece_area = np.bincount(piece, weights=surface.areas, minlength=count)
    piece_label = np.zeros(count, dtype=np.int64)
    piece_label[piece] = labels
    name_area = np.bincount(piece_label, weights=piece_area, minlength=int(labels.max()) + 1)
    small = piece_area < share * name_area[piece_label]
    border = ~same
    # Each small piece's border length per neighbouring name, all pieces at once (a piece x name table).
    names = int(labels.max()) + 1
    sides = [(piece[a], labels[b]), (piece[b], labels[a])]
    keys = np.concatenate([p[border] * names + n[border] for p, n in sides])
    lengths = np.concatenate([surface.edge_lengths[border]] * 2)
    outside = np.bincount(keys, weights=lengths, minlength=count * names).reshape(count, names)
    takes = small & (outside.sum(axis=1) > 0)  # a whole separate piece of the mesh keeps its own name
    piece_label[takes] = outside[takes].argmax(axis=1)
    return piece_label[piece]
