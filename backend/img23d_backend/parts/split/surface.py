"""The mesh as the split reads it: positions welded, each face's area and normal, and which faces
share an edge (with the angle between them and the edge's length), the graph the labelling smooths over.

Positions are welded because a GLB or OBJ splits its vertices along UV seams: left split, a seam
would look like an open edge and cut the adjacency there, so the labels could not cross it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError

# A face whose area is below this share of the bounding box's squared diagonal is "no surface"
# (a sliver a float32 GLB cannot even represent apart from its edge).
NO_AREA = 1e-14


@dataclass(frozen=True)
class Surface:
    """A welded triangle mesh in Blender's axes (Z up) and its face graph.

    ``faces[i]`` is the input's triangle ``i`` (the order is kept: labels index the input's faces);
    a triangle that welding collapsed (two corners at one position) stays, with zero area.
    """

    vertices: np.ndarray      # (V, 3) float64
    faces: np.ndarray         # (F, 3) int64
    areas: np.ndarray         # (F,) float64
    normals: np.ndarray       # (F, 3) unit, zero for a face without area
    pairs: np.ndarray         # (E, 2) int64: two faces that share an edge
    edge_lengths: np.ndarray  # (E,) the shared edge's length
    bends: np.ndarray         # (E,) radians between the two faces' normals, 0 (flat) to pi

    @property
    def face_count(self) -> int:
        return int(len(self.faces))

    @property
    def collapsed(self) -> np.ndarray:
        """(F,) bool: faces with a repeated corner, which no part can keep as a triangle."""
        f = self.faces
        return (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])

    @property
    def centroids(self) -> np.ndarray:
        return self.vertices[self.faces].mean(axis=1)

    @property
    def radius(self) -> float:
        """Half the bounding box's diagonal: the mesh's size, for windows and tolerances."""
        low, high = self.vertices.min(axis=0), self.vertices.max(axis=0)
        return float(np.linalg.norm(high - low)) / 2


def surface_of(positions: np.ndarray, triangles: np.ndarray) -> Surface:
    """``positions`` (V, 3) and ``triangles`` (F, 3) welded into a ``Surface``; a mesh with no area
    at all is one sentence (``bad_request``)."""
    positions = np.asarray(positions, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    if len(triangles) == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the mesh has no faces, so it has no parts to split")
    unique, index = np.unique(positions, axis=0, return_inverse=True)
    faces = index.reshape(-1)[triangles]
    corners = unique[faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    double = np.linalg.norm(cross, axis=1)
    diagonal = float(np.linalg.norm(unique.max(axis=0) - unique.min(axis=0)))
    if diagonal == 0.0 or float(double.sum()) / 2 <= NO_AREA * diagonal ** 2:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh has no surface: its {len(faces):,} triangles "
                                                   "enclose no area, so there is nothing to split")
    normals = np.divide(cross, double[:, None], out=np.zeros_like(cross), where=double[:, None] > 0)
    pairs, lengths = _edge_pairs(unique, faces)
    bends = np.arccos(np.clip((normals[pairs[:, 0]] * normals[pairs[:, 1]]).sum(axis=1), -1.0, 1.0))
    return Surface(unique, faces, double / 2, normals, pairs, lengths, bends)


def _edge_pairs(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces that share an edge: both faces of an ordinary edge; around an edge of more than two
    faces (non-manifold) each with the next, so the graph stays connected without a clique."""
    low = np.minimum(faces, np.roll(faces, -1, axis=1)).reshape(-1)
    high = np.maximum(faces, np.roll(faces, -1, axis=1)).reshape(-1)
    owner = np.repeat(np.arange(len(faces)), 3)
    real = low != high  # a collapsed face's degenerate edge joins nothing
    low, high, owner = low[real], high[real], owner[real]
    key = low * len(vertices) + high
    order = np.argsort(key, kind="stable")
    key, owner, low, high = key[order], owner[order], low[order], high[order]
    same = key[1:] == key[:-1]
    pairs = np.stack([owner[:-1][same], owner[1:][same]], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    lengths = np.linalg.norm(vertices[high[:-1][same]] - vertices[low[:-1][same]], axis=1)
    lengths = lengths[(owner[:-1][same] != owner[1:][same])]
    return pairs.astype(np.int64), lengths
