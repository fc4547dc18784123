"""The one axis turn between Blender's frame and glTF's, for the backend and the add-on alike.

img23d keeps a mesh in Blender's axes (Z up, the front facing -Y: the backend's ``readers.meshes``). glTF is
+Y up: Blender's glTF exporter writes (x, y, z) as (x, z, -y), and its importer turns it back. Every file
img23d reads or writes as glTF, every model that reads its input +Y up (SkinTokens samples so: DESIGN.md,
"Rigging: facts read in SkinTokens and UniRig"; Step1X-3D's texture model renders in upstream's Z-up frame,
``from_gltf`` of glTF's), and the add-on's splats (glTF's axes, as the backend's beside a GLB) go through
these two functions. A proper rotation about X (determinant +1): left stays left and nothing is mirrored.

numpy: the backend's environment and every Blender have it; the package itself never imports this module
(``tests/test_boundaries.py``), so the standard-library side of the protocol stays light.
"""

from __future__ import annotations

import numpy as np

# Rows: glTF's axes in Blender's frame (x stays, y' = z, z' = -y).
BLENDER_TO_GLTF = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _floats(points: np.ndarray) -> np.ndarray:
    """``points`` as floats, 32-bit ones kept 32-bit (a GLB's positions keep their own precision)."""
    points = np.asarray(points)
    return points if points.dtype in (np.float32, np.float64) else points.astype(np.float64)


def to_gltf(points: np.ndarray) -> np.ndarray:
    """Points (..., 3) in Blender's (x, y, z), Z up, as glTF's (x, z, -y), Y up."""
    points = _floats(points)
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def from_gltf(points: np.ndarray) -> np.ndarray:
    """The inverse of ``to_gltf``: glTF's (x, y, z), Y up, as Blender's (x, -z, y), Z up."""
    points = _floats(points)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)
