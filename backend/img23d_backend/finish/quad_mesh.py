"""What a retopologised quad mesh must be before an artist gets it, and the two things done to it.

The check counts edges itself (every face's sides, as undirected pairs of vertex indices): a
closed input must come back closed (every edge used by exactly two faces), no edge may be used by
more than two faces, no face may repeat a vertex or have no area, every face must be a quad, and
the count must be within the tolerance of the target.

Capping: Instant Meshes fills the holes its extraction leaves only up to six sides ("Not trying to
fill a hole of degree N" in wjakob/instant-meshes, src/extract.cpp); in its pure-quad output each
such hole is a loop of 2N edges. A loop the input did not have is closed here as Instant Meshes
closes its smaller ones: one vertex at the loop's centre and one quad per pair of the loop's edges
(its own pure-quad subdivision of an N-sided face).

Triangulation: glTF carries triangles only, so each quad becomes two triangles, split along the
shorter diagonal (as Blender's "Beauty" does for a non-planar quad), both keeping the quad's winding;
quad k is triangles 2k and 2k + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A loop longer than this is not one of Instant Meshes' small unfilled holes but a part lost:
# leave it open (the check then fails and says so).
CAP_MAX_EDGES = 48
# A face whose area is under this share of the squared bounding-box diagonal has none to speak of.
DEGENERATE_AREA = 1e-12


def face_edges(faces: np.ndarray) -> np.ndarray:
    """Every face's sides as directed (from, to) pairs, face by face: (F * k, 2)."""
    faces = np.asarray(faces, dtype=np.int64)
    return np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2)


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

    @property
    def passed(self) -> bool:
        return self.reason is None


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _percent(part: int, whole: int) -> str:
    share = 100.0 * part / max(whole, 1)
    return f"{share:.0f} %" if share >= 1 else f"{share:.1f} %"


def check_quads(vertices: np.ndarray, quads: np.ndarray, input_closed: bool, target: int,
                tolerance: float) -> QuadCheck:
    """Count what an artist would notice on ``quads`` and name the first thing that fails."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    distinct = 1 + np.count_nonzero(np.diff(np.sort(quads, axis=1), axis=1), axis=1)
    triangles = int(np.sum(distinct == 3))
    corners = np.asarray(vertices, dtype=np.float64)[quads] if len(quads) else np.zeros((0, 4, 3))
    # A quad's vector area is half the cross product of its diagonals (exact for a planar quad).
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 2] - corners[:, 0], corners[:, 3] - corners[:, 1]), axis=1)
    diagonal = float(np.ptp(vertices, axis=0).dot(np.ptp(vertices, axis=0))) if len(vertices) else 0.0
    degenerate = int(np.sum((distinct < 3) | (area <= DEGENERATE_AREA * diagonal)))
    counts = edge_use(quads)
    open_edges, crowded = int(np.sum(counts == 1)), int(np.sum(counts > 2))
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
    elif input_closed and open_edges:
        reason = f"{_percent(open_edges, len(counts))} of edges open where the input was closed"
    elif not low <= len(quads) <= high:
        off = 100.0 * (len(quads) - target) / target
        reason = f"{len(quads):,} quads, {abs(off):.0f} % {'over' if off > 0 else 'under'} the {target:,} target"
    return QuadCheck(len(quads), triangles, degenerate, len(counts), open_edges, crowded, reason)


def _hole_loops(quads: np.ndarray) -> list[list[int]] | None:
    """The open loops, each in the winding a face filling it needs; None when a vertex lies on
    two loops (a rim that cannot be followed round: left alone)."""
    sides = face_edges(quads)
    keys = np.sort(sides, axis=1)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    rim = sides[counts[inverse.ravel()] == 1]
    # A filling face runs each open side the other way round: b -> a for a face's a -> b.
    step: dict[int, int] = {}
    for a, b in rim.tolist():
        if b in step:
            return None
        step[b] = a
    loops, seen = [], set()
    for start in step:
        if start in seen:
            continue
        loop, vertex = [], start
        while vertex not in seen:
            seen.add(vertex)
            loop.append(vertex)
            vertex = step.get(vertex, -1)
            if vertex < 0:
                return None
        if vertex != start:
            return None
        loops.append(loop)
    return loops


def cap_small_holes(vertices: np.ndarray, quads: np.ndarray,
                    max_edges: int = CAP_MAX_EDGES) -> tuple[np.ndarray, np.ndarray, int]:
    """Close every even open loop of up to ``max_edges`` edges with quads around a centre vertex;
    (vertices, quads, holes closed). Loops that are odd, longer or tangled stay open."""
    loops = _hole_loops(np.asarray(quads, dtype=np.int64))
    if not loops:
        return vertices, quads, 0
    new_points, new_quads, closed = [], [], 0
    for loop in loops:
        size = len(loop)
        if size % 2 or size > max_edges:
            continue
        closed += 1
        if size == 4:
            new_quads.append(loop)
            continue
        centre = len(vertices) + len(new_points)
        new_points.append(np.asarray(vertices, dtype=np.float64)[loop].mean(axis=0))
        new_quads.extend([loop[i], loop[i + 1], loop[(i + 2) % size], centre] for i in range(0, size, 2))
    if not closed:
        return vertices, quads, 0
    points = np.vstack([vertices, np.asarray(new_points, dtype=np.float64).reshape(-1, 3)]).astype(vertices.dtype)
    return points, np.vstack([quads, np.asarray(new_quads, dtype=np.int64)]).astype(np.int64), closed


def triangulate_quads(vertices: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Two triangles per quad, quad k as triangles 2k and 2k + 1, split along its shorter diagonal."""
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    points = np.asarray(vertices, dtype=np.float64)
    a, b, c, d = quads.T
    along_ac = (np.linalg.norm(points[c] - points[a], axis=1) <= np.linalg.norm(points[d] - points[b], axis=1))
    first = np.where(along_ac[:, None], np.stack([a, b, c], axis=1), np.stack([a, b, d], axis=1))
    second = np.where(along_ac[:, None], np.stack([a, c, d], axis=1), np.stack([b, c, d], axis=1))
    return np.stack([first, second], axis=1).reshape(-1, 3)
