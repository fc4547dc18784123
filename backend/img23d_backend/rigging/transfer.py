"""Weights carried from one mesh to another: the high mesh's rig onto the retopologized low mesh.

Each target vertex finds the closest point on the source's triangles (``trimesh.proximity``'s closest
point query), blends the three corners' weights by that point's barycentric coordinates, and keeps the
strongest four, renormalised (``skin.Skin.from_dense``). Nearest-surface transfer, as Blender's Data
Transfer modifier's "Nearest Face Interpolated" does for vertex groups; a target vertex far off the
source still gets the weights of the surface nearest it.
"""

from __future__ import annotations

import numpy as np

from .skin import Skin


def transfer_skin(source_positions: np.ndarray, source_triangles: np.ndarray, source_skin: Skin,
                  joint_count: int, target_positions: np.ndarray) -> Skin:
    """``source_skin`` carried onto ``target_positions`` (see the module's docstring)."""
    import trimesh

    source = trimesh.Trimesh(np.asarray(source_positions, dtype=np.float64),
                             np.asarray(source_triangles, dtype=np.int64), process=False)
    closest, _, faces = trimesh.proximity.closest_point(source, np.asarray(target_positions, dtype=np.float64))
    corners = source.triangles[faces]                                              # (T, 3, 3)
    bary = trimesh.triangles.points_to_barycentric(corners, closest)
    bary = np.clip(np.nan_to_num(bary, nan=1.0 / 3.0), 0.0, None)                 # a sliver gives nan
    bary /= bary.sum(axis=1, keepdims=True)
    dense = source_skin.dense(joint_count)[source.faces[faces]]                    # (T, 3, J)
    return Skin.from_dense(np.einsum("tc,tcj->tj", bary, dense))
