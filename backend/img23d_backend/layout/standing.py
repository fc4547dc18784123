"""A placed mesh's transform in numbers: the add-on's import (``scene_import.place``) as a matrix, for the backend's
rooms that stand a mesh where the layout put it (the print, the fit of a mesh to its own points)."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np


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
