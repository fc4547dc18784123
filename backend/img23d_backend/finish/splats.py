"""An object's GLB as Gaussian splats: its meshes, UVs and base colour texture handed to the
protocol's splat maker (``img23d_protocol.splats``, which the add-on's export shares), in the GLB's
own axes (glTF: +Y up), every node's transform applied. The object's splat budget is shared among
its meshes by area, so an object of several meshes gets no more splats than an object of one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import trimesh
from img23d_protocol.splats import (MAX_SPLATS, PLAIN_SPLATS, UNTEXTURED, SplatCloud, SplatError, face_areas,
                                    splats_from_mesh)

from ..readers.colour_space import linear_to_srgb


def splats_of_glb(path: Path, max_splats: int = MAX_SPLATS, plain_splats: int = PLAIN_SPLATS) -> SplatCloud:
    """Splats covering every mesh of the GLB at ``path``, coloured from its base colour texture
    (or its base colour factor, or grey): at most ``max_splats`` in all (``plain_splats`` for an
    untextured mesh), each mesh its share by area. Faces left out (not finite, no area) are counted
    in the cloud's ``skipped``."""
    loaded = trimesh.load(str(path), file_type="glb", force="scene", process=False)
    meshes = [g for g in loaded.dump(concatenate=False) if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    if not meshes:
        raise SplatError(f"{Path(path).name} holds no triangles to make splats from")
    areas = [float(face_areas(np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)).sum())
             for m in meshes]
    total = sum(areas)
    if not total > 0:
        raise SplatError(f"the faces of {Path(path).name} all have zero area (or a corner that is not a number): "
                         "there is no surface to cover")
    clouds, skipped = [], 0
    for mesh, area in zip(meshes, areas):
        if area == 0:  # a mesh of no surface shows nothing: its faces count as left out
            skipped += len(mesh.faces)
            continue
        share = area / total
        clouds.append(_cloud(mesh, max(1, int(max_splats * share)), max(1, int(plain_splats * share))))
    cloud = SplatCloud.joined(clouds)
    return replace(cloud, skipped=cloud.skipped + skipped)


def _cloud(mesh: trimesh.Trimesh, max_splats: int, plain_splats: int) -> SplatCloud:
    faces = np.asarray(mesh.faces, dtype=np.int64)
    visual = mesh.visual
    material = getattr(visual, "material", None)
    image = getattr(material, "baseColorTexture", None)
    uv = getattr(visual, "uv", None)
    if image is not None and uv is not None and len(uv) == len(mesh.vertices):
        texture = np.asarray(image.convert("RGB"))
        return splats_from_mesh(mesh.vertices, faces, np.asarray(uv, dtype=np.float64)[faces], texture,
                                max_splats=max_splats, plain_splats=plain_splats)
    return splats_from_mesh(mesh.vertices, faces, colour=_factor_colour(material), max_splats=max_splats,
                            plain_splats=plain_splats)


def _factor_colour(material: object) -> tuple[float, float, float]:
    """A material's base colour factor (linear, as glTF stores it) in sRGB, as a texture would hold it."""
    factor = getattr(material, "baseColorFactor", None)
    if factor is None:
        return UNTEXTURED
    linear = np.asarray(factor, dtype=np.float64)[:3]
    linear = linear / 255.0 if linear.max() > 1.0 else linear  # trimesh keeps factors as 0..255 bytes
    return tuple(float(c) for c in linear_to_srgb(linear))
