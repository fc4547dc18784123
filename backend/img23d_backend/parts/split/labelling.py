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
# Island merging repeats until no label changes; on the fused test meshes (issue 73) it settles within 4
# passes. The bound only stops a cycle no mesh here has shown; what is left open is counted by the cut.
MERGE_PASSES = 32
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


def merge_islands(surface: Surface, labels: np.ndarray, share: float = ISLAND_SHARE,
                  passes: int = MERGE_PASSES) -> np.ndarray:
    """Labels with no island left: each connected piece of a name smaller than ``share`` of that name's
    area joins the neighbouring piece it shares the longest border with (by edge length), pass after
    pass until no label changes (at most ``passes``). One pass is not enough: specks that touch each
    other swap names instead of joining the name around them, and every speck left is a part of a few
    faces whose cut cannot close."""
    for _ in range(passes):
        merged = _merge_pass(surface, labels, share)
        if np.array_equal(merged, labels):
            break
        labels = merged
    return labels


def _merge_pass(surface: Surface, labels: np.ndarray, share: float) -> np.ndarray:
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
    # Each piece's border length with each neighbouring piece (pieces of other names only touch there).
    border = ~same
    one, other = piece[a[border]], piece[b[border]]
    keys, where = np.unique(np.concatenate([one * count + other, other * count + one]), return_inverse=True)
    lengths = np.bincount(where, weights=np.concatenate([surface.edge_lengths[border]] * 2))
    source, target = keys // count, keys % count
    chosen = small[source]
    source, target, lengths = source[chosen], target[chosen], lengths[chosen]
    # The longest border of each small piece (a whole separate piece of the mesh has none: it keeps its name).
    order = np.lexsort((-lengths, source))
    first = np.ones(len(order), dtype=bool)
    first[1:] = source[order][1:] != source[order][:-1]
    joins = np.full(count, -1, dtype=np.int64)
    joins[source[order][first]] = target[order][first]
    moving = np.flatnonzero(joins >= 0)
    # Two small pieces that would join each other would swap names: only the smaller one moves.
    partner = joins[moving]
    mutual = joins[partner] == moving
    larger = (piece_area[moving] > piece_area[partner]) | \
        ((piece_area[moving] == piece_area[partner]) & (moving > partner))
    moving = moving[~(mutual & larger)]
    piece_label[moving] = piece_label[joins[moving]]
    return piece_label[piece]
