"""A mesh's corner normals kept through a change of its faces (quads restored from triangle pairs).

Blender stores custom normals relative to each corner's automatic normal space (the face normals
around it), so the same stored values decode to other normals once faces change: joining a finished
GLB's triangle pairs into quads turned the file's normals by up to 6 degrees on a bumpy sphere, and
the normal map, baked against the file's normals, with them. ``read`` takes every corner's normal
before the change and ``restore`` sets them back afterwards, each found by the corner's position and
UV (a finished GLB's normals differ between the corners of one position only across a UV seam).
"""

from __future__ import annotations

import bpy
import numpy as np


def read(mesh: bpy.types.Mesh) -> dict[bytes, np.ndarray] | None:
    """Every corner's normal by its position and UV, or None when the mesh has no custom normals
    or no UVs (Blender then computes its normals from the faces, as it should)."""
    if not mesh.has_custom_normals or mesh.uv_layers.active is None:
        return None
    keys, normals = _corners(mesh)
    return dict(zip(keys, normals))


def restore(mesh: bpy.types.Mesh, normals: dict[bytes, np.ndarray] | None) -> None:
    """Set the corners' normals ``read`` returned back on ``mesh``, whose faces have changed."""
    if normals is None:
        return
    keys, now = _corners(mesh)
    mesh.normals_split_custom_set([tuple(normals.get(key, normal)) for key, normal in zip(keys, now)])
    mesh.update()


def _corners(mesh: bpy.types.Mesh) -> tuple[list[bytes], np.ndarray]:
    """Per corner: its key (position and UV) and its normal."""
    count = len(mesh.loops)
    vertex = np.zeros(count, np.int32)
    mesh.loops.foreach_get("vertex_index", vertex)
    positions = np.zeros(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", positions)
    uvs = np.zeros(count * 2, np.float32)
    mesh.uv_layers.active.data.foreach_get("uv", uvs)
    normals = np.zeros(count * 3, np.float32)
    mesh.corner_normals.foreach_get("vector", normals)
    keys = np.concatenate([positions.reshape(-1, 3)[vertex], uvs.reshape(-1, 2)], axis=1)
    normals = normals.reshape(-1, 3)
    return [row.tobytes() for row in keys], normals
