"""A mesh as the model reads it: fitted into [-1, 1], area-weighted surface samples with face normals, the
farthest-point queries, and per-sample weights carried back to the mesh's vertices.

Read from upstream's predict path as the port describes it (chris-straka/skintokens ``mesh.rs``:
``src/data/augment.py`` normalise, ``src/data/sampler.py`` sampling; ``src/model/utils.py`` ``fps``):
the bounding box's centre goes to the origin and its longest side to [-1, 1]; 54,000 points are drawn on
the faces with probability by area, each with its face's unit normal; queries are ``4 x n`` random samples
(without replacement when there are enough) thinned by farthest-point sampling to ``n``, starting at the
first, squared distances, the first index of the largest. The mesh arrives in the model's frame (+Y up,
DESIGN.md); turning a file's axes into it is the caller's.

img23d's differences, each said: every draw comes from one seeded ``torch.Generator`` (upstream draws its
VAE queries unseeded); weights reach a vertex from its nearest sample (DESIGN.md; upstream averages 8
neighbours by inverse distance), and the strongest four are kept and renormalised (upstream's
``group_per_vertex=4``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...neural.point_sampling import farthest_points


@dataclass(frozen=True)
class Normalisation:
    """The fit into [-1, 1]: ``model = (mesh - centre) / half_extent``."""

    centre: np.ndarray  # (3,) float64
    half_extent: float

    @classmethod
    def fit(cls, vertices: np.ndarray) -> "Normalisation":
        lo, hi = vertices.min(axis=0).astype(np.float64), vertices.max(axis=0).astype(np.float64)
        return cls((lo + hi) / 2.0, max(float((hi - lo).max()) / 2.0, 1e-12))

    def to_model(self, points: np.ndarray) -> np.ndarray:
        return ((np.asarray(points, np.float64) - self.centre) / self.half_extent).astype(np.float32)

    def to_mesh(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) * self.half_extent + self.centre).astype(np.float32)


def sample_surface(vertices: torch.Tensor, faces: torch.Tensor, count: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` points on the faces, drawn by area, and their faces' unit normals: ((count, 3), (count, 3))."""
    corners = vertices[faces]  # (F, 3, 3)
    cross = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    area = cross.norm(dim=1)
    if not float(area.sum()) > 0.0:
        raise ValueError("the mesh has no area to sample")
    face = torch.multinomial(area, count, replacement=True, generator=generator)
    r = torch.rand(count, 2, generator=generator, dtype=vertices.dtype)
    flip = r.sum(dim=1) > 1.0  # fold the square onto the triangle, as upstream
    r[flip] = 1.0 - r[flip]
    a, b, c = corners[face, 0], corners[face, 1], corners[face, 2]
    points = a + (b - a) * r[:, :1] + (c - a) * r[:, 1:]
    normals = cross[face] / area[face].clamp_min(1e-12)[:, None]
    return points, normals


def choose_queries(points: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``4 x count`` random samples (without replacement when there are enough) thinned to ``count`` by FPS
    (``neural.point_sampling``, from the first of them)."""
    n, wanted = points.shape[0], 4 * count
    if wanted <= n:
        pick = torch.randperm(n, generator=generator)[:wanted]
    else:
        pick = torch.randint(n, (wanted,), generator=generator)
    return pick[farthest_points(points[pick], count)]


def nearest_sample(vertices: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """For each vertex, the index of its nearest sample."""
    from scipy.spatial import cKDTree

    _, index = cKDTree(samples).query(vertices, k=1)
    return np.asarray(index, dtype=np.int64)


def top_four(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The four strongest joints per row of ``weights`` (V, J) and their weights renormalised to sum to 1.

    Fewer than four joints leave the last slots at joint 0 with weight 0 (glTF's convention); a row with no
    weight at all gives its strongest joint everything.
    """
    v, j = weights.shape
    k = min(4, j)
    order = np.argsort(-weights, axis=1, kind="stable")[:, :k]
    chosen = np.clip(np.take_along_axis(weights, order, axis=1), 0.0, None).astype(np.float64)
    total = chosen.sum(axis=1, keepdims=True)
    dead = total[:, 0] <= 0.0
    chosen[dead] = 0.0
    chosen[dead, 0] = 1.0
    chosen /= chosen.sum(axis=1, keepdims=True)
    joints = np.zeros((v, 4), np.int64)
    out = np.zeros((v, 4), np.float32)
    joints[:, :k] = order
    out[:, :k] = chosen
    joints[out == 0.0] = 0
    return joints, out
