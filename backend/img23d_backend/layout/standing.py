"""A placed mesh's transform in numbers: the add-on's import (``scene_import.place``) as a matrix, for the backend's
rooms that stand a mesh where the layout put it (the print, the fit of a mesh to its own points), and points
sampled on a mesh stood so (``MeshSurface``: the fit's and the support's, sampled once a mesh)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import trimesh
from img23d_protocol.frame import from_gltf


class Stands(Protocol):
    """Where the layout stands an object (``layout.Placement``, ``printing.sources.Placed``): its bounds' bottom
    centre at ``location`` (metres, Blender's axes), turned by ``yaw`` about Z, scaled by ``scale``."""

    location: tuple[float, float, float]
    yaw: float
    scale: float


def world_matrix(low: np.ndarray, high: np.ndarray, placed: Stands | None) -> np.ndarray:
    """The 3 x 4 affine matrix that stands a mesh of bounds ``low``..``high`` where ``placed`` says (its bottom
    centre at the origin, as it is, without one)."""
    anchor = np.array([(low[0] + high[0]) / 2, (low[1] + high[1]) / 2, low[2]])
    if placed is None:
        return np.hstack([np.eye(3), -anchor[:, None]])
    c, s = math.cos(placed.yaw), math.sin(placed.yaw)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) * placed.scale
    return np.hstack([turn, (np.asarray(placed.location) - turn @ anchor)[:, None]])


@dataclass(frozen=True)
class MeshSurface:
    """Points sampled on a mesh by area (the same every run) and their faces' normals, in its own frame (Blender's
    axes, as imported), and its bounds: where they stand once the mesh is placed is ``world``."""

    points: np.ndarray
    normals: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, vertices: np.ndarray, faces: np.ndarray, count: int) -> "MeshSurface | None":
        """``count`` points on the mesh of ``vertices`` (glTF's frame, as written) and ``faces``; None for a mesh
        with no vertex or no face."""
        blender = from_gltf(np.asarray(vertices, dtype=np.float64))
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        if len(blender) == 0 or len(faces) == 0:
            return None
        mesh = trimesh.Trimesh(blender, faces, process=False)
        points, face = trimesh.sample.sample_surface(mesh, count, seed=0)
        return cls(np.asarray(points), np.asarray(mesh.face_normals)[face], blender.min(axis=0), blender.max(axis=0))

    @property
    def extents(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in self.high - self.low)  # type: ignore[return-value]

    def world(self, placed: Stands) -> tuple[np.ndarray, np.ndarray]:
        """The points and their normals where ``placed`` stands the mesh (Blender's world)."""
        matrix = world_matrix(self.low, self.high, placed)
        return self.points @ matrix[:, :3].T + matrix[:, 3], self.normals @ matrix[:, :3].T
