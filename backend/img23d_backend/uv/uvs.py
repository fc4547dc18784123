"""A mesh's UVs for painting: its own when it has them, else img23d's box unwrap (``unwrap``,
``box_unwrap``: the vertices split along the seams).

Family-neutral: both texture families (Hunyuan3D-Paint in ``hunyuan``, the licence-clean
Step1X-3D texture in ``step1x_texture``) paint into the layout this gives.
"""

from __future__ import annotations

import numpy as np
import trimesh

from .unwrap import Arrays, unwrap_arrays


def has_uvs(mesh: trimesh.Trimesh) -> bool:
    """True when the mesh carries one finite UV per vertex."""
    uv = getattr(mesh.visual, "uv", None)
    return uv is not None and len(uv) == len(mesh.vertices) and bool(np.isfinite(uv).all())


def with_uvs(mesh: trimesh.Trimesh, unwrapped: Arrays | None = None) -> trimesh.Trimesh:
    """A new mesh with UVs: the existing ones exactly, or an unwrap (``unwrapped``, when it was made
    ahead: ``unwrap_arrays`` of this mesh)."""
    if has_uvs(mesh):
        vertices, faces, uv = mesh.vertices, mesh.faces, mesh.visual.uv
    else:
        vertices, faces, uv = unwrapped if unwrapped is not None else unwrap_arrays(mesh.vertices, mesh.faces)
    return trimesh.Trimesh(vertices=np.array(vertices, dtype=np.float64), faces=np.array(faces, dtype=np.int64),
                           visual=trimesh.visual.TextureVisuals(uv=np.array(uv, dtype=np.float64)),
                           process=False)
