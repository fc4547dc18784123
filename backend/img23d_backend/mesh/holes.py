"""Closing small holes: boundary loops found from edges that only one face uses, filled by ear clipping.

A hole's faces wind the opposite way round its loop from the faces around it, so the new faces
are oriented like their neighbours (normals stay outward on a consistently wound mesh). Ear
clipping adds no vertices: a loop of k edges gets k - 2 faces, as pymeshlab's hole filter did.

A boundary that is not manifold (a vertex where two holes meet, so the loop through it is
ambiguous) is left open and reported, never guessed at.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from .repair import edge_keys, piece_labels


@dataclass
class HoleFill:
    faces: np.ndarray     # the new faces (k, 3), to append to the mesh's
    left_open: bool       # some boundary could not be followed round (not manifold) and was left


def boundary_loops(faces: np.ndarray, vertex_count: int) -> tuple[list[list[int]], bool]:
    """The mesh's holes as vertex loops in the winding their filling faces need, and whether
    some boundary could not be followed (a vertex on two boundary loops, or an open chain)."""
    half, keys = edge_keys(faces, vertex_count)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    border = half[counts[inverse.ravel()] == 1]
    if len(border) == 0:
        return [], False
    # A filling face uses each border edge the other way round: the loop runs from b to a.
    starts, ends = border[:, 1], border[:, 0]
    out_degree = np.bincount(starts, minlength=vertex_count)
    in_degree = np.bincount(ends, minlength=vertex_count)
    ambiguous = set(np.flatnonzero((out_degree > 1) | (in_degree > 1)).tolist())
    following = dict(zip(starts.tolist(), ends.tolist()))
    loops: list[list[int]] = []
    seen: set[int] = set()
    broken = False
    for start in following:
        if start in seen:
            continue
        loop, vertex, closed = [], start, False
        while vertex not in seen and vertex not in ambiguous and vertex in following:
            seen.add(vertex)
            loop.append(vertex)
            vertex = following[vertex]
            if vertex == start:
                closed = True
                break
        if closed:
            loops.append(loop)
        else:
            broken = True
            seen.update(loop)
    return loops, broken


# A piece whose one boundary, closed, would enclose less than this share of its area ** 1.5 (a hemisphere
# encloses 0.13, a sphere 0.09, a bowl 3.5 % as deep as it is wide 0.01) is a sheet: its outline is no hole.
SHEET_VOLUME_SHARE = 0.01


def fill_holes(vertices: np.ndarray, faces: np.ndarray, max_edges: int) -> HoleFill:
    """Faces that close every hole of up to ``max_edges`` boundary edges; never a sheet's outline (the
    only boundary of a piece that closing would leave enclosing nearly nothing: a quad or a disc), which
    was "closed" with the sheet's own faces reversed, coincident with them."""
    loops, broken = boundary_loops(faces, len(vertices))
    small = [loop for loop in loops if len(loop) <= max_edges]
    if small:
        labels = piece_labels(faces, len(vertices))
        vertex_piece = np.full(len(vertices), -1, dtype=np.int64)
        vertex_piece[faces.ravel()] = np.repeat(labels, 3)
        holes_of = np.bincount([vertex_piece[loop[0]] for loop in loops], minlength=int(labels.max()) + 1)
        # A piece with several boundaries (a tube's two ends) has holes; one with one may be a sheet.
        small = [loop for loop in small if holes_of[vertex_piece[loop[0]]] > 1
                 or not _outlines_a_sheet(vertices, faces[labels == vertex_piece[loop[0]]], loop)]
    return HoleFill(fill_loops(vertices, faces, small), broken)


def _outlines_a_sheet(vertices: np.ndarray, piece: np.ndarray, loop: list[int]) -> bool:
    """Whether the faces ``piece``, closed by their one boundary ``loop``, would enclose (nearly) nothing with a
    cap about as large as the piece itself: a sheet's outline. A thin closed board missing a triangle encloses
    little too, but its hole is small beside it (it was left open)."""
    a, b, c = (vertices[piece[:, k]] for k in range(3))
    area = 0.5 * float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())
    ring = vertices[loop]
    rim = np.cross(ring, np.roll(ring, -1, axis=0))
    if 0.5 * float(np.linalg.norm(rim.sum(axis=0))) < 0.5 * area:  # the cap's (vector) area
        return False
    # The piece's volume with its hole closed by a fan round the loop's centre (divergence theorem).
    centre = np.broadcast_to(ring.mean(axis=0), ring.shape)
    enclosed = float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() + np.einsum("ij,ij->i", centre, rim).sum()) / 6.0
    return abs(enclosed) < SHEET_VOLUME_SHARE * area ** 1.5


def fill_loops(vertices: np.ndarray, faces: np.ndarray, loops: list[list[int]]) -> np.ndarray:
    """Faces (k, 3) that close the given boundary ``loops`` of ``boundary_loops`` (in its winding)."""
    if not loops:
        return np.zeros((0, 3), dtype=np.int64)
    on_loops = np.zeros(len(vertices), dtype=bool)
    on_loops[np.concatenate(loops)] = True
    half, keys = edge_keys(faces, len(vertices))
    # Edges the mesh has between loop vertices: a diagonal along one would join three faces.
    existing = set(keys[on_loops[half[:, 0]] & on_loops[half[:, 1]]].tolist())
    existing_faces = {tuple(sorted(face)) for face in faces[on_loops[faces].all(axis=1)].tolist()}
    new: list[list[int]] = []
    for loop in loops:
        if len(loop) == 3 and tuple(sorted(loop)) in existing_faces:
            continue  # a lone triangle's own outline: "closing" it would only add its back face
        new.extend(_clip_ears(vertices, loop, existing, len(vertices)))
    return np.asarray(new, dtype=np.int64).reshape(-1, 3)


def _clip_ears(vertices: np.ndarray, loop: list[int], existing: set[int], vertex_count: int) -> list[list[int]]:
    """Triangles covering the polygon ``loop``: ear clipping, the sharpest convex ear first.

    Convexity is judged against the loop's own normal (Newell's), so a hole in a curved surface
    is clipped as the surface bends; an ear whose new edge the mesh already has comes last.
    """
    points = vertices[loop]
    normal = np.cross(points, np.roll(points, -1, axis=0)).sum(axis=0)
    size = len(loop)
    before = [(i - 1) % size for i in range(size)]
    after = [(i + 1) % size for i in range(size)]
    version = [0] * size
    heap: list[tuple[bool, bool, float, int, int]] = []

    def push(i: int) -> None:
        p, q = before[i], after[i]
        a, b = points[p] - points[i], points[q] - points[i]
        cosine = float(a @ b) / (float(np.linalg.norm(a) * np.linalg.norm(b)) or 1.0)
        reflex = float(np.cross(points[i] - points[p], points[q] - points[i]) @ normal) < 0
        low, high = sorted((loop[p], loop[q]))
        heapq.heappush(heap, (low * vertex_count + high in existing, reflex,
                              math.acos(max(-1.0, min(1.0, cosine))), version[i], i))

    for i in range(size):
        push(i)
    triangles: list[list[int]] = []
    remaining = size
    while remaining > 3:
        _, _, _, stamp, i = heapq.heappop(heap)
        if stamp != version[i]:
            continue  # a neighbour was clipped since: this entry is stale
        p, q = before[i], after[i]
        triangles.append([loop[p], loop[i], loop[q]])
        low, high = sorted((loop[p], loop[q]))
        existing.add(low * vertex_count + high)
        after[p], before[q] = q, p
        version[i] = -1
        remaining -= 1
        for j in (p, q):
            version[j] += 1
            push(j)
    i = next(j for j in range(size) if version[j] >= 0)
    triangles.append([loop[before[i]], loop[i], loop[after[i]]])
    return triangles
