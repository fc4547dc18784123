"""A mesh made closed and manifold, as one solid (a ``manifold3d.Manifold``), or one sentence why it cannot be.

In order, each step said in the record when it changed anything:

1. vertices at one position merged (a GLB splits them along UV seams), faces with no area or repeated dropped
   (the clean-up's own functions, ``mesh.repair``);
2. the mesh cut into pieces (faces joined by edges); a piece of fewer than four faces (a stray triangle, beside
   the body or through it) is a loose bit that cannot enclose anything, left out; each other piece's winding made
   consistent and outward (trimesh's ``fix_winding`` and ``fix_inversion``: a flipped patch turned back), then
   its holes closed (``mesh.holes``, ear clipping, any size; trimesh's own fills triangles and quads
   only). A piece whose one rim outlines a sheet (a quad, a leaf: closing it would enclose nothing) is no solid:
   it is left out, and an object made only of such is an open sheet with no inside, said so;
3. each closed piece becomes a Manifold (its constructor is the proof: ``status`` NoError), and the pieces are
   united (pieces that overlap, a fused pair, become one body without the surfaces inside each other);
4. a piece that cannot be made one (edges of three faces, a rim that cannot be followed) or that passes through
   itself (``intersections``) sends the whole object to the grid (``remesh``): rebuilt as the solid it bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..mesh.holes import fill_holes
from ..mesh.repair import drop_bad_faces, drop_unreferenced, edge_keys, merge_duplicate_vertices, piece_labels
from .intersections import crossing_pairs
from .remesh import rebuild

ANY_HOLE = 1 << 30  # holes of any number of edges are closed
# A closed piece enclosing less than this share of its area ** 1.5 has no inside (a sphere: 0.09; a 0.01 mm film
# 100 mm across: 3.5e-5, thin but solid, which the wall check reports).
SHEET_VOLUME = 1e-6
SMALLEST_PIECE = 4  # faces: the fewest that close a surface (a tetrahedron's)


@dataclass
class Repaired:
    solid: object | None                            # a manifold3d.Manifold; None when nothing can be printed
    repairs: list[str] = field(default_factory=list)  # what was done, in words
    refused: str | None = None                      # why it cannot be printed: one sentence naming the object
    rebuilt_cell: float | None = None               # the grid's cell, in the mesh's units, when it was rebuilt
    bodies: int = 1                                 # separate solids it is made of (a floater is one of its own)


def to_manifold(vertices: np.ndarray, faces: np.ndarray) -> object:
    """A manifold3d.Manifold of the arrays (its ``status()`` says whether they were a closed manifold)."""
    import manifold3d

    mesh = manifold3d.Mesh(vert_properties=np.ascontiguousarray(vertices, dtype=np.float32),
                           tri_verts=np.ascontiguousarray(faces, dtype=np.uint32))
    return manifold3d.Manifold(mesh)


def arrays_of(solid: object) -> tuple[np.ndarray, np.ndarray]:
    """A Manifold's vertices (float64) and triangles (int64)."""
    mesh = solid.to_mesh64()  # type: ignore[attr-defined]  # its own 64-bit positions: a file rounds them once
    return np.asarray(mesh.vert_properties[:, :3], dtype=np.float64), np.asarray(mesh.tri_verts, dtype=np.int64)


def repair(name: str, vertices: np.ndarray, faces: np.ndarray) -> Repaired:
    """``name``'s mesh as one closed manifold solid, and what was done to it."""
    import manifold3d

    result = Repaired(None)
    count = len(vertices)
    vertices, faces = merge_duplicate_vertices(np.asarray(vertices, dtype=np.float64), np.asarray(faces, np.int64))
    if len(vertices) < count:
        result.repairs.append(f"merged {count - len(vertices):,} vertices that shared a position")
    kept = drop_bad_faces(vertices, faces)
    if len(kept) < len(faces):
        result.repairs.append(f"removed {len(faces) - len(kept):,} faces with no area or repeated")
    vertices, faces = drop_unreferenced(vertices, kept)
    if len(faces) == 0:
        return Repaired(None, result.repairs, f"{name} has no faces with an area: there is nothing to print")
    labels = piece_labels(faces, len(vertices))
    # A closed surface has four faces at least (a tetrahedron): a piece of fewer (a stray triangle beside the
    # body, or through it) encloses nothing, and kept it would be a sheet at best, or cross the body and send the
    # whole object to the grid. Left out, as loose bits, before anything else looks at them.
    sizes = np.bincount(labels)
    loose = int((sizes < SMALLEST_PIECE).sum())
    if loose:
        faces, labels = faces[sizes[labels] >= SMALLEST_PIECE], labels[sizes[labels] >= SMALLEST_PIECE]
        if len(faces) == 0:
            return Repaired(None, result.repairs, _open_sheet(name))
        result.repairs.append(f"left out {loose:,} loose bit{'s' if loose > 1 else ''} of fewer than four faces")
        labels = np.unique(labels, return_inverse=True)[1].ravel()
    solids, sheets, broken, flipped, filled = [], 0, False, 0, 0
    for label in range(int(labels.max()) + 1):
        piece = faces[labels == label]
        closed, turned, added, sheet = _close_piece(vertices, piece)
        flipped, filled = flipped + turned, filled + added
        if sheet:
            sheets += 1
            continue
        solid = to_manifold(vertices, closed) if closed is not None else None
        if solid is None or solid.status() != manifold3d.Error.NoError or len(crossing_pairs(vertices, closed, 1)):
            broken = True
            break
        solids.append(solid)
    if flipped:
        result.repairs.append(f"turned {flipped:,} face{'s' if flipped > 1 else ''} that faced inward")
    if filled:
        result.repairs.append(f"closed {filled:,} hole{'s' if filled > 1 else ''}")
    if broken:
        return _rebuilt(name, vertices, faces, result)
    if not solids:
        result.refused = _open_sheet(name)
        return result
    if sheets:
        result.repairs.append(f"left out {sheets:,} open sheet{'s' if sheets > 1 else ''} with no inside")
    united = manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add) if len(solids) > 1 else solids[0]
    result.bodies = len(united.decompose()) if len(solids) > 1 else 1
    if result.bodies < len(solids):
        result.repairs.append(f"united {len(solids):,} pieces that overlapped into {result.bodies:,} "
                              f"solid{'s' if result.bodies > 1 else ''}")
    if united.is_empty() or united.volume() <= 0:
        result.refused = f"{name} encloses no volume once its pieces are united: there is nothing to print"
        return result
    result.solid = united
    return result


def _open_sheet(name: str) -> str:
    return (f"{name} is an open sheet with no inside: it encloses no volume to print (give it a thickness in "
            "Blender, Solidify, first)")


def _close_piece(vertices: np.ndarray, piece: np.ndarray) -> tuple[np.ndarray | None, int, int, bool]:
    """(the piece's faces wound outward and closed, or None where it cannot be; faces turned; holes closed;
    whether it is a sheet, whose rim closing would enclose nothing)."""
    import trimesh

    used = _edge_uses(piece, len(vertices))
    if used.max(initial=0) > 2:
        return None, 0, 0, False  # an edge of three faces or more: for the grid
    faces = wound_alike(piece, len(vertices))
    holes = 0
    if (used == 1).any():
        fill = fill_holes(vertices, faces, ANY_HOLE)
        if fill.left_open:
            return None, 0, 0, False
        if len(fill.faces) == 0:
            return None, 0, 0, True  # its rim outlines a sheet
        holes = _loops_closed(fill.faces, len(vertices))
        faces = np.concatenate([faces, fill.faces])
        if (_edge_uses(faces, len(vertices)) != 2).any():
            return None, 0, holes, False  # some rim left open beside a sheet's: for the grid
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    if abs(mesh.volume) <= SHEET_VOLUME * mesh.area ** 1.5:
        return None, 0, holes, True  # closed only by its own faces turned over (a sheet with a hole): no inside
    if mesh.volume < 0:  # wound consistently, but inside out: the whole piece turned
        mesh.invert()
    faces = np.asarray(mesh.faces, dtype=np.int64)
    return faces, int((~_same_winding(faces[:len(piece)], piece)).sum()), holes, False


def wound_alike(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """``faces`` (one piece, no edge of more than two faces) each wound like its neighbours, the first face's way:
    a breadth-first walk over the faces (SciPy's), each face turned where it runs the same way along its edge as
    the face it was reached from. (trimesh's ``fix_winding`` does this in Python: 15 s for the real 40,000-face
    mesh with three flipped patches, against a tenth of a second here.)"""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    half, keys = edge_keys(faces, vertex_count)
    order = np.argsort(keys, kind="stable")
    same = keys[order[1:]] == keys[order[:-1]]
    first, second = order[:-1][same], order[1:][same]
    # Two faces agree when they run opposite ways along their shared edge; 2 marks a pair that does not.
    clash = np.where(half[first, 0] == half[second, 0], 2, 1).astype(np.int8)
    count = len(faces)
    rows, columns, values = np.r_[first // 3, second // 3], np.r_[second // 3, first // 3], np.r_[clash, clash]
    graph = coo_matrix((values, (rows, columns)), shape=(count, count)).tocsr()
    visit, parent = breadth_first_order(graph, 0, directed=False, return_predecessors=True)
    # Each face's step from its parent, looked up among the pairs rather than read as graph[parents, faces]:
    # SciPy answers that with a dense matrix, but with a sparse one when no face has a parent (a piece of one
    # face), whose comparison below then raised "the truth value of an array ... is ambiguous". (Two faces share
    # at most one edge once repeats are dropped, so each pair is there once.)
    pairs = rows * count + columns
    by_pair = np.argsort(pairs, kind="stable")
    reached = visit[1:].astype(np.int64)  # SciPy's int32: a pair's key (parent * count + face) needs 64 bits
    steps = values[by_pair[np.searchsorted(pairs, parent[reached].astype(np.int64) * count + reached,
                                           sorter=by_pair)]]
    turn = np.zeros(count, dtype=bool)
    for face, step in zip(reached.tolist(), (steps == 2).tolist()):  # a face turns as its parent did, or not
        turn[face] = turn[parent[face]] != step
    wound = faces.copy()
    wound[turn] = wound[turn][:, ::-1]
    return wound


def _same_winding(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, whether faces ``a`` and ``b`` (the same vertices) go round in the same direction."""
    def canonical(faces: np.ndarray) -> np.ndarray:  # each face rotated to start at its smallest vertex
        start = faces.argmin(axis=1)
        return np.take_along_axis(faces, (start[:, None] + np.arange(3)) % 3, axis=1)
    return (canonical(a) == canonical(b)).all(axis=1)


def _edge_uses(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """How many faces use each edge of ``faces`` (one count per half-edge)."""
    _, keys = edge_keys(faces, vertex_count)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()]


def _loops_closed(new_faces: np.ndarray, vertex_count: int) -> int:
    """How many holes the new faces close: their pieces (each hole's fan is one piece of faces)."""
    return int(piece_labels(new_faces, vertex_count).max()) + 1 if len(new_faces) else 0


def _rebuilt(name: str, vertices: np.ndarray, faces: np.ndarray, result: Repaired) -> Repaired:
    """The object rebuilt on the grid (``remesh``), or the sentence why even that made nothing."""
    import manifold3d

    grid = rebuild(vertices, faces)
    solid = to_manifold(grid.vertices, grid.faces) if grid is not None else None
    if solid is None or solid.status() != manifold3d.Error.NoError or solid.volume() <= 0:
        result.refused = (f"{name} could not be made into a closed solid: its surface crosses itself or has edges "
                          "of three faces, and even rebuilt from a grid it encloses nothing")
        return result
    result.solid = solid
    result.rebuilt_cell = grid.cell  # type: ignore[union-attr]
    result.repairs.append("rebuilt as the solid its surface bounds, on a grid (edges shared by three faces or "
                          "more, or a surface passing through itself, have no local repair)")
    return result
