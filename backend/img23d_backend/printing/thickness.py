"""The thinnest wall of a closed solid: rays from the surface straight inward, to where they leave it again.

A wall thinner than a nozzle's two lines (or a resin printer's smallest feature) prints broken or not at all:
a fin, an ear, a hollow's wall where the surface dips in. From the centre of each face (at most ``SAMPLES`` of
them, drawn by area, the same each run), a ray goes along the inward normal; the distance to the first face it
meets is the solid's thickness there. trimesh casts them (through Embree, which the bake already brings). The
thinnest wall, the single thinnest ray and where it is, and the share of the surface thinner than the artist's
bound are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLES = 40_000


# The thinnest wall is read over all but the thinnest ``SPARED_SHARE`` of the surface's area: a generated mesh's
# marching-cubes creases and a drain hole's rim give single rays of a few hundredths of a millimetre that say
# nothing about the walls (the single thinnest ray is kept beside it).
SPARED_SHARE = 0.001


@dataclass
class Thickness:
    thinnest_mm: float | None        # over all but the thinnest 0.1 % of the area; None: no ray found the far side
    least_mm: float | None           # the single thinnest ray
    where: list[float] | None        # the point on the surface where that ray starts (mm)
    thin_share: float                # the share of the surface's area thinner than the bound


def thinnest_wall(vertices: np.ndarray, faces: np.ndarray, bound_mm: float) -> Thickness:
    """The walls of the closed solid ``vertices``/``faces`` (mm); nothing measured for no faces (an empty solid has
    no bounds: trimesh's ``extents`` is None, which the ray's step cannot scale)."""
    import trimesh

    if len(faces) == 0 or len(vertices) == 0:
        return Thickness(None, None, None, 0.0)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    areas = mesh.area_faces
    chosen = np.arange(len(faces))
    if len(faces) > SAMPLES:
        chosen = np.random.default_rng(0).choice(len(faces), SAMPLES, replace=False, p=areas / areas.sum())
    normals = mesh.face_normals[chosen]
    good = np.isfinite(normals).all(axis=1) & (np.linalg.norm(normals, axis=1) > 0.5)
    chosen, normals = chosen[good], normals[good]
    step = 1e-6 * float(np.linalg.norm(mesh.extents)) + 1e-9  # off the face it starts from
    origins = mesh.triangles_center[chosen] - normals * step
    hits, ray, _ = mesh.ray.intersects_location(origins, -normals, multiple_hits=False)
    if len(ray) == 0:
        return Thickness(None, None, None, 0.0)
    distance = np.linalg.norm(hits - origins[ray], axis=1) + step
    thinnest = int(np.argmin(distance))
    sampled = areas[chosen[ray]]
    share = float(sampled[distance < bound_mm].sum() / max(sampled.sum(), 1e-300))
    order = np.argsort(distance)
    spared = np.searchsorted(np.cumsum(sampled[order]) / sampled.sum(), SPARED_SHARE)
    robust = float(distance[order[min(int(spared), len(order) - 1)]])
    return Thickness(round(robust, 3), round(float(distance[thinnest]), 3),
                     [round(float(v), 2) for v in mesh.triangles_center[chosen[ray[thinnest]]]], round(share, 4))
