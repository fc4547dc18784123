"""The mesh cut by name: one piece per name, its faces the input's own, each cut closed by a cap.

A piece's boundary loops are of two kinds: those the cut made (an edge there had a face of another
name on its other side) and holes the input already had (an edge with one face in the whole mesh).
Only the cuts are capped, with ``mesh.holes``' ear clipping (no new vertex: a flat fan of
triangles across the outline, wound like the faces around it); the input's own holes stay as they
were. Nothing else is added: what the mesh hid behind a cut is not guessed.

A region that touches itself at a corner is split there into two outlines (``unpinch``), so each is one
clean loop. Whatever a cap still cannot close (an outline that cannot be followed round, a part that is
a lone triangle) is left open and counted, never guessed at: ``open_edges``, the edges of the part that
do not join exactly two of its faces wound opposite ways, apart from the input's own holes; a part is
closed exactly when it has none and the input gave it no hole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ...mesh.holes import boundary_loops, fill_loops
from .labelling import UNLABELLED
from .surface import Surface


@dataclass(frozen=True)
class Piece:
    """One name's part: ``vertices`` (Blender axes) and ``faces``, the input's faces first, then the caps."""

    name: str
    vertices: np.ndarray        # (V, 3) float64
    faces: np.ndarray           # (K + C, 3) int64
    source_faces: np.ndarray    # (K,) the input's face index of each of its first K faces
    cap_faces: int              # C: triangles added to close the cuts
    area: float                 # the input's faces' area (before the caps)
    open_cuts: int              # runs of the cut's outline left open (connected runs of ``open_edges``)
    closed: bool                # every edge has exactly two faces, wound opposite ways (watertight)
    open_edges: int = 0         # edges the cut left open (apart from the input's own holes)
    input_open_edges: int = 0   # edges the input itself left open (holes, non-manifold) the part holds, as they were

    @property
    def empty(self) -> bool:
        return len(self.source_faces) == 0


def cut(surface: Surface, labels: np.ndarray, names: list[str]) -> list[Piece]:
    """One ``Piece`` per name of ``names`` from ``labels`` (F,) (a name with no face: an empty piece).
    Faces that welding collapsed to a line belong to no piece: they have no surface to keep."""
    if len(labels) != surface.face_count or (labels == UNLABELLED).any():
        raise ValueError("every face needs one name before the mesh is cut")
    own_holes = _own_holes(surface.faces[~surface.collapsed], len(surface.vertices))
    return [_piece(surface, np.flatnonzero((labels == index) & ~surface.collapsed), name, own_holes)
            for index, name in enumerate(names)]


def _piece(surface: Surface, chosen: np.ndarray, name: str, own_holes: np.ndarray) -> Piece:
    if len(chosen) == 0:
        return Piece(name, np.zeros((0, 3)), np.zeros((0, 3), np.int64), chosen, 0, 0.0, 0, False)
    used, local = np.unique(surface.faces[chosen], return_inverse=True)
    faces, corner_of = unpinch(local.reshape(-1, 3).astype(np.int64))
    used = used[corner_of]
    vertices = surface.vertices[used]
    loops, _ = boundary_loops(faces, len(vertices))
    count = len(surface.vertices)
    holes = set(own_holes.tolist())
    # Only a loop the cut made all of is capped: one that runs along the input's own hole too (a cup without
    # its lid cut in half: each half's outline is part rim, part cut) was capped whole, a lid the input never
    # had, and the part called closed; its cut edges stay open and are said so, as the input was.
    cuts = [loop for loop in loops if not any(_key(used[a], used[b], count) in holes
                                              for a, b in zip(loop, loop[1:] + loop[:1]))]
    caps = fill_loops(vertices, faces, cuts)
    whole = np.concatenate([faces, caps]) if len(caps) else faces
    edges = open_edges(whole)
    global_keys = np.minimum(used[edges[:, 0]], used[edges[:, 1]]) * count + \
        np.maximum(used[edges[:, 0]], used[edges[:, 1]])
    own = np.isin(global_keys, own_holes)
    return Piece(name, vertices, whole, chosen, int(len(caps)), float(surface.areas[chosen].sum()),
                 _runs(edges[~own]), is_closed(whole, len(vertices)), int((~own).sum()), int(own.sum()))


def left_open(pieces: list[Piece]) -> str | None:
    """One sentence for the edges the cut left open (per part, then in all), or None when every cut closed."""
    counts = [(piece.name, piece.open_edges) for piece in pieces if piece.open_edges]
    if not counts:
        return None
    total = sum(count for _, count in counts)
    each = ", ".join(f"{name} {count:,}" for name, count in counts)
    return (f"the cut left {total:,} edge{'s' if total != 1 else ''} open ({each}) that no flat cap could close, "
            "so those parts are not watertight there")


def unpinch(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``faces`` with each vertex split into one copy per fan of faces around it (faces joined through an
    edge at that vertex), and each new vertex's old index. A region that touches itself at a corner then
    has two outlines there instead of one figure-of-eight that no loop can follow; the copies stay at
    the same position, so nothing moves."""
    count = len(faces)
    corner = np.arange(count * 3).reshape(count, 3)
    # Each edge (a, b) of the piece used by exactly two faces joins their corners at a and at b.
    low, high = np.minimum(faces, np.roll(faces, -1, axis=1)), np.maximum(faces, np.roll(faces, -1, axis=1))
    at_low = np.where(faces <= np.roll(faces, -1, axis=1), corner, np.roll(corner, -1, axis=1))
    at_high = np.where(faces <= np.roll(faces, -1, axis=1), np.roll(corner, -1, axis=1), corner)
    key = (low * (int(faces.max()) + 1) + high).reshape(-1)
    order = np.argsort(key, kind="stable")
    _, start, uses = np.unique(key[order], return_index=True, return_counts=True)
    one, other = order[start[uses == 2]], order[start[uses == 2] + 1]
    at_low, at_high = at_low.reshape(-1), at_high.reshape(-1)
    rows = np.concatenate([at_low[one], at_high[one]])
    cols = np.concatenate([at_low[other], at_high[other]])
    graph = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(count * 3, count * 3))
    _, fan = csgraph.connected_components(graph, directed=False)
    fans, new = np.unique(fan, return_inverse=True)
    old = np.zeros(len(fans), dtype=np.int64)
    old[new] = faces.reshape(-1)
    return new.reshape(-1, 3).astype(np.int64), old


def is_closed(faces: np.ndarray, vertex_count: int) -> bool:
    """Watertight: every edge used by exactly two faces, once in each direction."""
    if len(faces) == 0:
        return False
    directed = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2).astype(np.int64)
    keys = directed[:, 0] * vertex_count + directed[:, 1]
    reverse = directed[:, 1] * vertex_count + directed[:, 0]
    unique, counts = np.unique(keys, return_counts=True)
    if (counts != 1).any():
        return False
    return bool(np.isin(reverse, unique).all())


def open_edges(faces: np.ndarray) -> np.ndarray:
    """(K, 2) the edges (low, high vertex) of ``faces`` that are not joined by exactly two faces wound
    opposite ways: a border (one face), more than two faces, or two faces wound alike (none: closed)."""
    if len(faces) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    start = np.asarray(faces, dtype=np.int64).reshape(-1)
    end = np.roll(np.asarray(faces, dtype=np.int64), -1, axis=1).reshape(-1)
    low, high = np.minimum(start, end), np.maximum(start, end)
    size = int(high.max()) + 1
    keys, where = np.unique(low * size + high, return_inverse=True)
    uses = np.bincount(where, minlength=len(keys))
    forward = np.bincount(where, weights=(start < end).astype(np.float64), minlength=len(keys))
    bad = (uses != 2) | (forward != 1)
    return np.stack([keys[bad] // size, keys[bad] % size], axis=1)


def _runs(edges: np.ndarray) -> int:
    """How many connected runs (outlines, or pieces of one) ``edges`` (K, 2) make."""
    if len(edges) == 0:
        return 0
    ends, local = np.unique(edges, return_inverse=True)
    local = local.reshape(-1, 2)
    graph = sparse.coo_matrix((np.ones(len(local)), (local[:, 0], local[:, 1])), shape=(len(ends), len(ends)))
    return int(csgraph.connected_components(graph, directed=False)[0])


def _own_holes(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """Keys (low * vertex_count + high) of the edges the whole mesh leaves open: its holes, and edges of more than
    two faces or of two wound alike (a double-sided sheet's every edge). They are the input's, kept as they were;
    counted as the cut's, a double-sided box cut in half was said to have 960 edges the cut left open."""
    edges = open_edges(faces)
    return np.unique(edges[:, 0] * vertex_count + edges[:, 1])


def _key(a: int, b: int, count: int) -> int:
    low, high = (int(a), int(b)) if a < b else (int(b), int(a))
    return low * count + high
