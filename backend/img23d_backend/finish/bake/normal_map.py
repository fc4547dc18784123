"""World-space normals of the high mesh written in the low mesh's tangent space, as Blender bakes them.

Per texel, as ``RE_bake_normal_world_to_tangent`` in Blender's source/blender/render/intern/bake.cc:
the low mesh's tangent and normal interpolated by the texel's barycentrics and left unnormalised, the
sign interpolated and clamped to +-1, the bitangent sign * cross(normal, tangent), the world normal
multiplied by the inverse of the matrix with columns (tangent, bitangent, normal), normalised, and
encoded n * 0.5 + 0.5 (+Y up: OpenGL's convention, which glTF and Blender read).
"""

from __future__ import annotations

import numpy as np

FLAT = np.array([0.5, 0.5, 1.0])  # the encoded straight-up normal: the map's background


def tangent_space_normals(world: np.ndarray, bary: np.ndarray, corner_normals: np.ndarray,
                          corner_tangents: np.ndarray) -> np.ndarray:
    """Unit tangent-space normals (N, 3) of ``world`` (N, 3) at texels with barycentrics ``bary``.

    ``corner_normals`` (N, 3, 3) and ``corner_tangents`` (N, 3, 4) are the low mesh's at the corners of
    each texel's triangle.
    """
    normal = np.einsum("nk,nkd->nd", bary, corner_normals)
    tangent = np.einsum("nk,nkd->nd", bary, corner_tangents[..., :3])
    sign = np.where(np.einsum("nk,nk->n", bary, corner_tangents[..., 3]) < 0, -1.0, 1.0)
    bitangent = sign[:, None] * np.cross(normal, tangent)
    # Cramer's rule for [T B N] x = world: the rows of the inverse are cross products over the determinant
    b_x_n, n_x_t, t_x_b = np.cross(bitangent, normal), np.cross(normal, tangent), np.cross(tangent, bitangent)
    det = np.sum(tangent * b_x_n, axis=1)
    ok = np.abs(det) > 1e-12
    safe = np.where(ok, det, 1.0)[:, None]
    local = np.stack([np.sum(world * b_x_n, 1), np.sum(world * n_x_t, 1), np.sum(world * t_x_b, 1)], axis=1) / safe
    local[~ok] = (0.0, 0.0, 1.0)  # no tangent frame (a degenerate triangle): a flat normal
    return local / np.maximum(np.linalg.norm(local, axis=1, keepdims=True), 1e-12)


def encode(normals: np.ndarray) -> np.ndarray:
    """Unit tangent-space normals to colours in 0..1 (Blender adds 1e-5 so that 0 encodes as 128)."""
    return np.clip(normals * 0.5 + 0.5 + 1e-5, 0.0, 1.0)


def decode(colours: np.ndarray) -> np.ndarray:
    """Colours in 0..1 back to unit tangent-space normals (what a renderer does)."""
    normals = colours * 2.0 - 1.0
    return normals / np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)
