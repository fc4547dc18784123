"""What a retopologised quad mesh must be before an artist gets it, and what is done to it on the way.

The check counts edges itself (every face's sides, as undirected pairs of vertex indices): a
closed input must come back closed (every edge used by exactly two faces), no edge may be used by
more than two faces, no face may repeat a vertex or have no area, every face must be a quad, no
quad's diagonal may be an edge or another quad's diagonal (the file's triangles are split along a
diagonal the bake chooses, and there either split would put more than two triangles on one edge:
two quads sharing two edges, a doublet, is the case ``quad_repair`` dissolves), no vertex may
join faces that share no edge there (a pinch: Instant Meshes can leave a thin part, such as the
example house's chimney at 350 quads, closed on its own and touching the rest at one vertex; the
file then looks whole, but Blender's import keeps parts that touch at a point apart), and the
count must be within the tolerance of the target.

Capping: Instant Meshes fills the holes its extraction leaves only up to six sides ("Not trying to
fill a hole of degree N" in wjakob/instant-meshes, src/extract.cpp); in its pure-quad output each
such hole is a loop of 2N edges. A loop the input did not have is closed here as Instant Meshes
closes its smaller ones: one vertex at the loop's centre and one quad per pair of the loop's edges
(its own pure-quad subdivision of an N-sided face). Where two holes meet at a vertex, each rim is
followed into its own gap, and a rim that still passes a vertex twice is cut there into loops
that pass it once; a four-edge loop whose opposite corners share one position is a slit
(an edge's midpoint made twice) and is zipped rather than filled.

Triangulation: glTF carries triangles only, so each quad becomes two triangles, split along the
shorter diagonal (as Blender's "Beauty" does for a non-planar quad), both keeping the quad's winding;
quad k is triangles 2k and 2k + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..mesh.repair import drop_unreferenced

# A loop longer than this is not one of Instant Meshes' small unfilled holes but a part lost:
# leave it open (the check then fails and says so).
CAP_MAX_EDGES = 48
# A face whose area is under this share of the squared bounding-box diagonal has none to speak of.
DEGENERATE_AREA = 1e-12


def face_edges(faces: np.ndarray) -> np.ndarray:
    """Every face's sides as directed (from, to) pairs, face by face: (F * k, 2)."""
    faces = np.asarray(faces, dtype=np.int64)
    return np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2)


def quad_normals(points: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Each quad's vector area, doubled: the cross product of its diagonals (exact for a planar quad)."""
    corners = np.asarray(points, dtype=np.float64)[np.asarray(quads, dtype=np.int64)]
    return np.cross(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1])


def edge_use(faces: np.ndarray) -> np.ndarray:
    """How many faces use each distinct undirected edge (one count per edge)."""
    if len(faces) == 0:
        return np.zeros(0, dtype=np.int64)
    sides = np.sort(face_edges(faces), axis=1)
    _, counts = np.unique(sides, axis=0, return_counts=True)
    return counts


def is_closed(faces: np.ndarray) -> bool:
    """Every edge used by exactly two faces (watertight and edge-manifold)."""
    counts = edge_use(faces)
    return len(counts) > 0 and bool(np.all(counts == 2))


@dataclass(frozen=True)
class QuadCheck:
    """What was counted on a result, and the first reason it fails (None when it passes)."""

    quads: int
    triangles: int          # faces of three distinct corners among the quads (a repeated index)
    degenerate: int         # faces with fewer than three distinct corners, or no area
    edges: int
    open_edges: int         # used by one face
    crowded_edges: int      # used by more than two faces
    reason: str | None
    clashing_diagonals: int = 0  # quads whose diagonal is an edge or another quad's diagonal
    pinches: int = 0             # vertices whose faces make more than one fan

    @property
    def passed(self) -> bool:
        return self.reason is None


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _percent(part: int, whole: int) -> str:
    share = 100.0 * part / max(whole, 1)
    decimals = 0 if share >= 1 else 1 if share >= 0.1 else 2  # a few open edges must not read as 0 %
    return f"{share:.{decimals}f} %"


def check_quads(vertices: np.ndarray, quads: np.ndarray, input_closed: bool, target: int,
                tolerance: float) -> QuadCheck:
    """Count what an artist would notice on ``quads`` and name the first thing that fails."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    distinct = 1 + np.count_nonzero(np.diff(np.sort(quads, axis=1), axis=1), axis=1)
    triangles = int(np.sum(distinct == 3))
    area = 0.5 * np.linalg.norm(quad_normals(vertices, quads), axis=1) if len(quads) else np.zeros(0)
    extent = np.ptp(vertices, axis=0) if len(vertices) else np.zeros(3)
    degenerate = int(np.sum((distinct < 3) | (area <= DEGENERATE_AREA * float(extent.dot(extent)))))
    counts = edge_use(quads)
    open_edges, crowded = int(np.sum(counts == 1)), int(np.sum(counts > 2))
    clashing = clashing_diagonals(quads)
    pinches = pinched_vertices(quads)
    low, high = target * (1.0 - tolerance), target * (1.0 + tolerance)
    reason = None
    if len(quads) == 0:
        reason = "Instant Meshes returned no faces"
    elif degenerate:
        reason = f"{_count(degenerate, 'face')} had no area"
    elif triangles:
        reason = f"{triangles:,} of {len(quads):,} faces were triangles"
    elif crowded:
        reason = f"{_count(crowded, 'edge')} shared by more than two faces"
    elif clashing:
        reason = (f"{_count(clashing, 'quad')} with a diagonal that is another face's edge or diagonal "
                  "(two quads sharing two edges)")
    elif pinches:
        reason = f"{_count(pinches, 'vertex')} where parts of the quads touch at a point (a part pinched off)"
    elif input_closed and open_edges:
        reason = f"{_percent(open_edges, len(counts))} of edges open where the input was closed"
    elif not low <= len(quads) <= high:
        off = 100.0 * (len(quads) - target) / target
        reason = f"{len(quads):,} quads, {abs(off):.0f} % {'over' if off > 0 else 'under'} the {target:,} target"
    return QuadCheck(len(quads), triangles, degenerate, len(counts), open_edges, crowded, reason, clashing, pinches)


def pinched_vertices(faces: np.ndarray) -> int:
    """Vertices whose faces do not make one fan, each face reached from the next across an edge at
    the vertex: parts that touch there at a point. Counted on edges of at most two faces."""
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        return 0
    size = faces.shape[1]
    corner = np.arange(faces.size).reshape(faces.shape)  # corner i of face k: k * size + i
    start, end = faces.reshape(-1), np.roll(faces, -1, axis=1).reshape(-1)
    at_start, at_end = corner.reshape(-1), np.roll(corner, -1, axis=1).reshape(-1)
    keys = np.minimum(start, end) * (int(faces.max()) + 1) + np.maximum(start, end)
    order = np.argsort(keys, kind="stable")
    pair = np.flatnonzero(keys[order][1:] == keys[order][:-1])
    one, two = order[pair], order[pair + 1]
    # the other face runs the edge the other way round when both agree; else the same way
    same = start[one] == start[two]
    left = np.concatenate([at_start[one], at_end[one]])
    right = np.concatenate([np.where(same, at_start[two], at_end[two]), np.where(same, at_end[two], at_start[two])])
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(faces.size, faces.size))
    _, fan = connected_components(graph, directed=False)
    fans_at = np.unique(np.stack([faces.reshape(-1), fan], axis=1), axis=0)[:, 0]
    return int(np.sum(np.bincount(fans_at) > 1))


def clashing_diagonals(quads: np.ndarray) -> int:
    """Quads one of whose diagonals is an edge of the mesh or a diagonal of another quad: a split
    along it could put three or four triangles on one edge."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    if len(quads) == 0:
        return 0
    sides = np.unique(np.sort(face_edges(quads), axis=1), axis=0)
    diagonals = np.sort(np.concatenate([quads[:, [0, 2]], quads[:, [1, 3]]]), axis=1)
    both = np.concatenate([sides, diagonals])
    _, inverse, counts = np.unique(both, axis=0, return_inverse=True, return_counts=True)
    clash = counts[inverse.reshape(-1)[len(sides):]] > 1
    return int(np.unique(np.concatenate([np.arange(len(quads))] * 2)[clash]).size)


def _turn(vertices: np.ndarray, quads: np.ndarray, at: int, came_from: int, choices: list[int]) -> int:
    """Where a hole's rim goes on from ``at`` (reached from ``came_from``) when two holes meet
    there: the way out that is first clockwise from the way in, about the surface's normal (the
    filling face lies to the left of its sides, so the hole is the gap between those two)."""
    normal = quad_normals(vertices, quads[np.any(quads == at, axis=1)]).sum(axis=0)
    length = float(np.linalg.norm(normal))
    if length <= 1e-30:  # sheets facing both ways meet here: no side to turn by, any way out will do
        return choices[0]
    normal /= length
    first = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    first /= np.linalg.norm(first)
    second = np.cross(normal, first)

    def angle(other: int) -> float:
        direction = vertices[other] - vertices[at]
        return float(np.arctan2(direction.dot(second), direction.dot(first)))

    back = angle(came_from)
    return min(choices, key=lambda out: (back - angle(out)) % (2.0 * np.pi))


def _hole_loops(vertices: np.ndarray, quads: np.ndarray) -> list[list[int]]:
    """The open loops, each in the winding a face filling it needs. Where two loops meet at a
    vertex, each goes on into its own gap (``_turn``), so each stays one hole."""
    sides = face_edges(quads)
    keys = np.sort(sides, axis=1)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    rim = sides[counts[inverse.ravel()] == 1]
    # A filling face runs each open side the other way round: b -> a for a face's a -> b.
    steps: dict[int, list[int]] = {}
    for a, b in rim.tolist():
        steps.setdefault(b, []).append(a)
    points = np.asarray(vertices, dtype=np.float64)
    loops = []
    while steps:
        start = next(iter(steps))
        loop, previous, vertex = [start], start, steps[start].pop()
        if not steps[start]:
            del steps[start]
        while vertex != start:
            choices = steps.get(vertex)
            if not choices:  # a rim that does not come back round: not a hole to fill
                break
            loop.append(vertex)
            ahead = choices[0] if len(choices) == 1 else _turn(points, quads, vertex, previous, choices)
            choices.remove(ahead)
            if not choices:
                del steps[vertex]
            previous, vertex = vertex, ahead
        else:
            loops.extend(simple_loops(loop))
    return loops


def simple_loops(loop: list[int]) -> list[list[int]]:
    """A loop that passes a vertex more than once (holes touching at a corner the turn could not
    tell apart, or slits along its rim), cut at each such vertex into loops that pass it once: a
    cap over the whole would use that vertex's edges to the centre more than twice."""
    out: list[list[int]] = []
    path: list[int] = []
    seen: dict[int, int] = {}
    for vertex in loop:
        if vertex in seen:
            start = seen[vertex]
            out.append(path[start:])
            for gone in path[start + 1:]:
                del seen[gone]
            del path[start + 1:]
        else:
            seen[vertex] = len(path)
            path.append(vertex)
    out.append(path)
    return [piece for piece in out if len(piece) >= 3]


def _slit(points: np.ndarray, loop: list[int]) -> tuple[int, int] | None:
    """(kept, dropped) when a loop of four is a slit: two opposite corners at one position (an
    edge's midpoint made twice where Instant Meshes' coarse mesh had an edge of more than two
    faces). Zipped, not filled: a face there would have no area."""
    if len(loop) != 4:
        return None
    for a, b in ((loop[1], loop[3]), (loop[0], loop[2])):
        if np.array_equal(points[a], points[b]):
            return a, b
    return None


def cap_small_holes(vertices: np.ndarray, quads: np.ndarray,
                    max_edges: int = CAP_MAX_EDGES) -> tuple[np.ndarray, np.ndarray, int]:
    """Close every even open loop of up to ``max_edges`` edges (quads around a centre vertex, a
    slit zipped); (vertices, quads, holes closed). Loops that are odd or longer stay open."""
    quads = np.asarray(quads, dtype=np.int64)
    loops = _hole_loops(vertices, quads)
    if not loops:
        return vertices, quads, 0
    points = np.asarray(vertices, dtype=np.float64)
    new_points: list[np.ndarray] = []
    new_quads: list[list[int]] = []
    zipped = np.arange(len(points))
    closed = 0
    for loop in loops:
        size = len(loop)
        if size % 2 or size > max_edges:
            continue
        closed += 1
        slit = _slit(points, loop)
        if slit is not None:
            zipped[slit[1]] = slit[0]
        elif size == 4:
            new_quads.append(loop)
        else:
            centre = len(points) + len(new_points)
            new_points.append(points[loop].mean(axis=0))
            new_quads.extend([loop[i], loop[i + 1], loop[(i + 2) % size], centre] for i in range(0, size, 2))
    if not closed:
        return vertices, quads, 0
    grown = np.vstack([points, np.asarray(new_points, dtype=np.float64).reshape(-1, 3)])
    faces = np.vstack([zipped[quads], np.asarray(new_quads, dtype=np.int64).reshape(-1, 4)])
    grown, faces = drop_unreferenced(grown, faces)
    return grown.astype(np.asarray(vertices).dtype), faces.astype(np.int64), closed


def median_edge(vertices: np.ndarray, quads: np.ndarray) -> float:
    """The median length of the quads' sides (0 for no quads)."""
    if len(quads) == 0:
        return 0.0
    sides = face_edges(quads)
    points = np.asarray(vertices, dtype=np.float64)
    return float(np.median(np.linalg.norm(points[sides[:, 0]] - points[sides[:, 1]], axis=1)))


def triangulate_quads(vertices: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Two triangles per quad, quad k as triangles 2k and 2k + 1, split along its shorter diagonal."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    points = np.asarray(vertices, dtype=np.float64)
    a, b, c, d = quads.T
    along_ac = (np.linalg.norm(points[c] - points[a], axis=1) <= np.linalg.norm(points[d] - points[b], axis=1))
    first = np.where(along_ac[:, None], np.stack([a, b, c], axis=1), np.stack([a, b, d], axis=1))
    second = np.where(along_ac[:, None], np.stack([a, c, d], axis=1), np.stack([b, c, d], axis=1))
    return np.stack([first, second], axis=1).reshape(-1, 3)
