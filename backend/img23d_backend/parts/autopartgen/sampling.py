"""Surface points for AutoPartGen's VAE: area-weighted samples with face normals, thinned by the shared
farthest-point sampling (``neural.point_sampling``: torch, no compiled extension).

The release (facebookresearch/AutoPartGen, ``autopartgen.py`` and ``utils/sampling.py``, read only)
encodes a mesh as 500,000 surface samples with their faces' normals, keeps 65,536 of them at random,
farthest-point samples 32,768 (xyz + normal); the VAE then takes a further farthest-point sample of
those as its latent queries (32,768 / 16 = 2,048), from a random start. Farthest-point sampling here
measures distance on xyz only (the normals ride along). A generator makes every draw reproducible.
"""

from __future__ import annotations

import numpy as np
import torch

from ...neural.point_sampling import farthest_points


def surface_samples(vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points on the triangles, area-weighted, each with its face's unit normal: [count, 6] float32."""
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    area = np.linalg.norm(cross, axis=1)
    if not np.isfinite(area).all() or area.sum() <= 0:
        raise ValueError("the mesh has no surface to sample (every triangle has zero area)")
    face = rng.choice(len(area), size=count, p=area / area.sum())
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    tri = triangles[face]
    points = tri[:, 0] + u[:, None] * (tri[:, 1] - tri[:, 0]) + v[:, None] * (tri[:, 2] - tri[:, 0])
    normals = cross[face] / np.maximum(area[face], 1e-12)[:, None]
    return np.concatenate([points, normals], axis=1).astype(np.float32)


def surface_cloud(vertices: np.ndarray, faces: np.ndarray, samples: int, pool: int, points: int,
                  seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The VAE's input for one mesh: ``samples`` surface samples, ``pool`` of them kept at random,
    ``points`` of those by farthest-point sampling on ``device`` -> [points, 6] float32 (xyz, normal).
    The draws are numpy's and the start's a CPU generator's, so every device picks the same points."""
    rng = np.random.default_rng(seed)
    cloud = surface_samples(vertices, faces, samples, rng)
    if pool < len(cloud):
        cloud = cloud[rng.choice(len(cloud), size=pool, replace=False)]
    tensor = torch.from_numpy(cloud).to(device)
    generator = torch.Generator().manual_seed(seed)
    return tensor[farthest_points(tensor[:, :3], points, generator)]
