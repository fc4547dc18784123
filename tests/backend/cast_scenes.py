"""Point maps with a known answer: world meshes (Blender's axes, Z up, the floor at Z = 0) ray-cast pixel by pixel
through a pitched pinhole, as a perfect metric depth model would see them (the layout's tests, issue 98)."""

from __future__ import annotations

import math

import numpy as np
import trimesh


def standing_box(size: tuple[float, float, float], bottom: tuple[float, float, float], yaw_degrees: float = 0.0
                 ) -> trimesh.Trimesh:
    """A box of ``size`` (x, y, z) turned ``yaw_degrees`` about Z, its bottom centre at ``bottom``."""
    box = trimesh.creation.box(extents=size)
    box.apply_translation((0.0, 0.0, size[2] / 2))
    box.apply_transform(trimesh.transformations.rotation_matrix(math.radians(yaw_degrees), (0, 0, 1)))
    box.apply_translation(bottom)
    return box


def cast(meshes: list[trimesh.Trimesh], size: tuple[int, int], focal: float, pitch: float, height: float
         ) -> tuple[np.ndarray, np.ndarray]:
    """(point map in the camera frame: x right, y down, z forward, NaN where nothing is hit; labels: 1 + the mesh's
    index, 0 the floor) of world ``meshes`` on a floor, seen from (0, 0, ``height``) looking along +Y, pitched down
    by ``pitch`` radians, through a pinhole of ``focal`` pixels over a picture of ``size`` (width, height)."""
    floor = trimesh.creation.box(extents=(200, 200, 0.01))
    floor.apply_translation((0, 0, -0.005))
    scene = trimesh.util.concatenate([*meshes, floor])
    owner = np.concatenate([np.full(len(m.faces), i + 1) for i, m in enumerate(meshes)] + [np.zeros(len(floor.faces))])
    width, rows = size
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(rows) + 0.5)
    rays = np.stack([(u - width / 2) / focal, (v - rows / 2) / focal, np.ones_like(u)], axis=-1).reshape(-1, 3)
    tilt = math.pi / 2 - pitch
    turn = np.array([[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]])
    origins = np.tile([0.0, 0.0, height], (len(rays), 1))
    where, ray, face = scene.ray.intersects_location(origins, (rays * [1, -1, -1]) @ turn.T, multiple_hits=False)
    points = np.full((len(rays), 3), np.nan)
    labels = np.zeros(len(rays), dtype=np.int32)
    points[ray] = (where - origins[ray]) @ turn @ np.diag([1, -1, -1])
    labels[ray] = owner[face]
    return points.reshape(rows, width, 3), labels.reshape(rows, width)
