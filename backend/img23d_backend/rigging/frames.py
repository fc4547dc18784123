"""The one axis turn between img23d's frame and a rigging model's.

img23d keeps a mesh in Blender's axes (Z up, the front facing -Y: ``readers.meshes``). SkinTokens
samples its input with **+Y up** (docs: DESIGN.md, "Rigging: facts read in SkinTokens and UniRig"),
the frame glTF uses: Blender's glTF exporter writes (x, y, z) as (x, z, -y), and its importer turns it
back. A proper rotation (determinant +1) about X, so left stays left and nothing is mirrored.
"""

from __future__ import annotations

import numpy as np

# Rows: the +Y-up frame's axes in img23d's frame (x stays, y' = z, z' = -y).
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def z_up_to_y_up(points: np.ndarray) -> np.ndarray:
    """Points (..., 3) in img23d's Z-up frame as the model's +Y-up frame has them."""
    return np.asarray(points, dtype=np.float64) @ Z_UP_TO_Y_UP.T


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """The inverse of ``z_up_to_y_up``: a model's +Y-up points back in img23d's frame."""
    return np.asarray(points, dtype=np.float64) @ Z_UP_TO_Y_UP
