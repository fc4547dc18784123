"""Meshes as the artist's side sends them to Re-texture: the add-on's file (one loop per triangle corner,
UVs per loop) and a UV sphere with its own UVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh


def mesh_file(mesh: trimesh.Trimesh, path: Path, with_uvs: bool) -> Path:
    """What the add-on writes: one loop per triangle corner, UVs per loop."""
    faces = np.asarray(mesh.faces)
    arrays = {"positions": np.asarray(mesh.vertices, dtype=np.float32), "triangles": faces.astype(np.int32),
              "triangle_loops": np.arange(faces.size, dtype=np.int32).reshape(-1, 3)}
    if with_uvs:
        arrays["loop_uvs"] = np.asarray(mesh.visual.uv, dtype=np.float32)[faces].reshape(-1, 2)
    np.savez(path, **arrays)
    return path


def uv_sphere(rings: int, segments: int) -> trimesh.Trimesh:
    """A UV sphere with its own (equirectangular) UVs."""
    sphere = trimesh.creation.uv_sphere(count=[rings, segments])
    x, y, z = sphere.vertices.T
    uv = np.stack([(np.arctan2(y, x) / (2 * np.pi)) % 1.0, np.arccos(np.clip(z, -1, 1)) / np.pi], axis=1)
    sphere.visual = trimesh.visual.TextureVisuals(uv=uv)
    return sphere
