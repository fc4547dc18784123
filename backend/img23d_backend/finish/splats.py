"""An object's GLB as Gaussian splats: its meshes, UVs and base colour texture handed to the
protocol's splat maker (``img23d_protocol.splats``, which the add-on's export shares), in the GLB's
own axes (glTF: +Y up), every node's transform applied."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from img23d_protocol.splats import UNTEXTURED, SplatCloud, SplatError, splats_from_mesh

from ..readers.colour_space import linear_to_srgb


def splats_of_glb(path: Path) -> SplatCloud:
    """Splats covering every mesh of the GLB at ``path``, coloured from its base colour texture
    (or its base colour factor, or grey)."""
    loaded = trimesh.load(str(path), file_type="glb", force="scene", process=False)
    meshes = [g for g in loaded.dump(concatenate=False) if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    if not meshes:
        raise SplatError(f"{Path(path).name} holds no triangles to make splats from")
    clouds = [_cloud(mesh) for mesh in meshes]
    return SplatCloud(*(np.concatenate([getattr(c, name) for c in clouds])
                        for name in ("positions", "normals", "colours", "opacities", "scales", "rotations")))


def _cloud(mesh: trimesh.Trimesh) -> SplatCloud:
    faces = np.asarray(mesh.faces, dtype=np.int64)
    visual = mesh.visual
    material = getattr(visual, "material", None)
    image = getattr(material, "baseColorTexture", None)
    uv = getattr(visual, "uv", None)
    if image is not None and uv is not None and len(uv) == len(mesh.vertices):
        texture = np.asarray(image.convert("RGB"))
        return splats_from_mesh(mesh.vertices, faces, np.asarray(uv, dtype=np.float64)[faces], texture)
    return splats_from_mesh(mesh.vertices, faces, colour=_factor_colour(material))


def _factor_colour(material: object) -> tuple[float, float, float]:
    """A material's base colour factor (linear, as glTF stores it) in sRGB, as a texture would hold it."""
    factor = getattr(material, "baseColorFactor", None)
    if factor is None:
        return UNTEXTURED
    linear = np.asarray(factor, dtype=np.float64)[:3]
    linear = linear / 255.0 if linear.max() > 1.0 else linear  # trimesh keeps factors as 0..255 bytes
    return tuple(float(c) for c in linear_to_srgb(linear))
