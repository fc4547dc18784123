"""From a part's latent to a clean mesh, and the checks the part loop makes on it.

* decoding: the VAE's field on a coarse grid, then a band refined (``surfaces.volume``) over the
  release's bounds [-1.01, 1.01], marching cubes at the zero level (positive inside).
* cleaning as the release's post-processing: pieces (connected components) under 1 % of the part's
  area dropped; holes filled (trimesh) so the part is closed where it can be.
* the overlap check: surface voxels at 256 per side of [-1, 1] from points sampled on each surface;
  the share of the smaller set's voxels the two share (the release: max of both ratios), > 0.3 means
  "drawn again".
* frames: a mesh is fitted into [-1, 1] by the centre of its box and its largest side, as the release
  normalises; parts are moved back by the inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...surfaces.volume import GridSettings, GridStats, extract_surface, hierarchical_grid
from .loader import AutoPartGenNetworks

BOUNDS = 1.01
FLOATER_SHARE = 0.01
OVERLAP_GRID = 256
OVERLAP_LIMIT = 0.3
# A part's surface at most (``surfaces.volume``'s bound is for a whole object): a part is cut to the job's face
# budget (40,000 by default) after, and a part filling the whole box at 512 makes about a million triangles.
PART_MAX_FACES = 1_000_000


@dataclass(frozen=True)
class Frame:
    centre: np.ndarray
    half_side: float

    @classmethod
    def of(cls, vertices: np.ndarray) -> "Frame":
        low, high = vertices.min(0), vertices.max(0)
        return cls((low + high) / 2.0, float((high - low).max()) / 2.0)

    def into(self, vertices: np.ndarray) -> np.ndarray:
        return ((vertices - self.centre) / self.half_side).astype(np.float32)

    def back(self, vertices: np.ndarray) -> np.ndarray:
        return (vertices * self.half_side + self.centre).astype(np.float32)


def decode(networks: AutoPartGenNetworks, latent: torch.Tensor, grid: int,
           stats: GridStats | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """A latent [1, N, C] (unscaled) -> vertices and faces in [-1, 1], or None without a surface; ``stats``
    hears what the grid did (its note says when it stopped short of ``grid``)."""
    with torch.no_grad():
        tokens = networks.vae.tokens(latent.to(networks.device))
        field = hierarchical_grid(lambda points: networks.vae.query(points[None], tokens)[0],
                                  GridSettings(resolution=grid, bounds=BOUNDS, max_faces=PART_MAX_FACES),
                                  networks.device, stats)
    return extract_surface(field, BOUNDS)


def clean(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pieces under 1 % of the area dropped, holes filled.

    The pieces are found and weighed in one pass over the faces (connected components of the face
    adjacency, areas summed by label), not one mesh object per piece: trimesh's ``split`` repairs every
    piece it makes, and a random field's surface has thousands (158 s and 8 GB for 3,590 of them on the
    tiny replica's 8-million-triangle part; bench/autopartgen_cost.py)."""
    import trimesh
    from trimesh.graph import connected_component_labels

    mesh = trimesh.Trimesh(vertices, faces, process=True)
    labels = connected_component_labels(mesh.face_adjacency, node_count=len(mesh.faces))
    if labels.size and labels.max() > 0:
        areas = np.bincount(labels, weights=mesh.area_faces)
        kept = areas >= FLOATER_SHARE * areas.sum()
        mesh.update_faces(kept[labels])
        mesh.remove_unreferenced_vertices()
    trimesh.repair.fill_holes(mesh)
    return np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int64)


def _voxels(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    # About four samples per voxel face of surface, so two samplings of one surface mark the same voxels
    # (the release voxelises triangles with Open3D when it has it; this is its sampled fallback, denser).
    count = int(np.clip(4 * mesh.area / (2.0 / OVERLAP_GRID) ** 2, 1024, 500_000))  # the release fallback's cap
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=int(rng.integers(1 << 31)))
    index = np.clip(np.floor((np.clip(points, -1, 1) + 1) * OVERLAP_GRID / 2), 0, OVERLAP_GRID - 1).astype(np.int64)
    return np.unique((index[:, 0] * OVERLAP_GRID + index[:, 1]) * OVERLAP_GRID + index[:, 2])


def overlap(part: tuple[np.ndarray, np.ndarray], others: list[tuple[np.ndarray, np.ndarray]], seed: int) -> float:
    """The share of surface voxels ``part`` and the parts so far have in common (of the smaller set)."""
    if not others:
        return 0.0
    rng = np.random.default_rng(seed)
    mine = _voxels(*part, rng)
    theirs = np.unique(np.concatenate([_voxels(v, f, rng) for v, f in others]))
    common = len(np.intersect1d(mine, theirs, assume_unique=True))
    return max(common / len(mine), common / len(theirs)) if len(mine) and len(theirs) else 0.0
