"""From a field at query points to a mesh: a coarse grid first, then finer grids near the surface.

Written for img23d from the method upstream's decoder describes (upstream's ``volume_decoders.py``
is Tencent-licensed and is not used or copied). The field is queried densely on a coarse grid over
``[-bounds, bounds]^3``; each finer level doubles the resolution, takes the coarser grid's values
trilinearly everywhere, and queries the decoder again only near the surface: in and next to every
coarse cell whose corners' signs differ, and every cell with a corner whose value lies within
``band`` of the surface level. The band is what keeps thin parts: a blade, a sheet or a wire
thinner than a coarse cell may fall between two coarse samples of one sign, and no sign change
then marks it; but the geometry model was trained on a truncated signed distance scaled to
[-1, 1] (``tsdf_threshold`` 0.01, upstream's training data), so a coarse sample within about 0.01
of any surface reads inside the band (upstream: |value| < 0.95). The coarsest level is the finest
resolution halved while it stays at least ``min_coarse`` cells (64; upstream's decoder stops at
63), so a coarse cell is at most 2.1 / 64 = 0.033 units wide. The finest level is ``resolution``;
scikit-image's marching cubes extracts the zero level. Positions are float32 whatever the
decoder's dtype, and a grid index ``i`` lies at ``-bounds + i * 2 bounds / resolution`` exactly
(upstream's extractor divides by ``resolution + 1``, shrinking every mesh by a voxel's width; here
the vertices are where the decoder was asked).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

BOUNDS = 1.05          # upstream's pipeline default
LEVEL = 0.0            # the surface: positive inside
CHUNK = 65_536         # query points per decoder call (upstream's chunk)
MIN_COARSE = 64        # the coarsest grid's cells per side, at least (upstream's decoder: 63)
BAND = 0.95            # |value| under this is near a surface (upstream's band; the field is a TSDF in [-1, 1])

QueryFn = Callable[[torch.Tensor], torch.Tensor]  # points [M, 3] float32 -> values [M] float32


@dataclass(frozen=True)
class GridSettings:
    resolution: int = 384       # the finest grid's cells per side (upstream's pipeline default)
    bounds: float = BOUNDS
    chunk: int = CHUNK
    min_coarse: int = MIN_COARSE   # the coarsest level has at least this many cells a side
    band: float = BAND          # refine around every sample whose |value| is below this

    def resolutions(self) -> list[int]:
        """Cells per side of each level, coarsest first: ``resolution`` halved while it stays whole
        and at least ``min_coarse`` (one dense level when ``resolution`` is under twice that)."""
        if self.resolution < 2 or self.min_coarse < 2:
            raise ValueError(f"a grid of {self.resolution} cells (coarsest {self.min_coarse}) cannot be decoded: "
                             "use at least 2 of each")
        levels = [self.resolution]
        while levels[0] % 2 == 0 and levels[0] // 2 >= self.min_coarse:
            levels.insert(0, levels[0] // 2)
        return levels

    @classmethod
    def for_octree(cls, octree: int, chunk: int = CHUNK) -> "GridSettings":
        """A job's octree resolution, rounded up to a multiple of the steps from a coarsest level of
        at least ``MIN_COARSE`` cells (so every level halves exactly): 256 -> 64, 128, 256; 384 -> 96,
        192, 384; 200 -> 100, 200; under 128 one dense level."""
        step = 1
        while octree // (2 * step) >= MIN_COARSE:
            step *= 2
        return cls(resolution=max(2, -(-octree // step) * step), chunk=chunk)


@dataclass
class GridStats:
    queried: int = 0            # decoder queries made
    dense: int = 0              # what one dense grid at the finest resolution would have made


def positions(resolution: int, bounds: float, device: torch.device) -> torch.Tensor:
    """The coordinates of grid indices 0..resolution along one axis (float32)."""
    return torch.linspace(-bounds, bounds, resolution + 1, dtype=torch.float32, device=device)


def _query(query: QueryFn, points: torch.Tensor, chunk: int) -> torch.Tensor:
    return torch.cat([query(points[start:start + chunk]) for start in range(0, len(points), chunk)]) \
        if len(points) else torch.zeros(0, dtype=torch.float32, device=points.device)


def _dense(query: QueryFn, resolution: int, settings: GridSettings, device: torch.device) -> torch.Tensor:
    axis = positions(resolution, settings.bounds, device)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    return _query(query, grid, settings.chunk).reshape((resolution + 1,) * 3)


def _near_cells(grid: torch.Tensor, level: float, band: float) -> torch.Tensor:
    """Cells [n, n, n] of a vertex grid [n+1]^3 to refine: those whose eight corners are not all on
    one side of ``level``, or with a corner within ``band`` of it (a surface thinner than the cell
    may pass between corners of one sign), and every cell next to one of those."""
    inside = (grid > level).float()[None, None]
    any_inside = F.max_pool3d(inside, kernel_size=2, stride=1)
    all_inside = -F.max_pool3d(-inside, kernel_size=2, stride=1)
    banded = F.max_pool3d(((grid - level).abs() < band).float()[None, None], kernel_size=2, stride=1)
    marked = ((any_inside != all_inside) | (banded > 0)).float()
    return F.max_pool3d(marked, kernel_size=3, stride=1, padding=1)[0, 0] > 0


def hierarchical_grid(query: QueryFn, settings: GridSettings, device: torch.device,
                      stats: GridStats | None = None) -> torch.Tensor:
    """The field on the finest grid, [resolution + 1]^3 float32, queried densely only at the coarsest."""
    levels = settings.resolutions()
    grid = _dense(query, levels[0], settings, device)
    queried = grid.numel()
    for resolution, finer in zip(levels, levels[1:]):
        near = _near_cells(grid, LEVEL, settings.band)
        cell = torch.clamp(torch.arange(finer + 1, device=device) // 2, max=resolution - 1)
        mask = near[cell][:, cell][:, :, cell]
        upsampled = F.interpolate(grid[None, None], size=(finer + 1,) * 3, mode="trilinear",
                                  align_corners=True)[0, 0]
        index = mask.nonzero()
        axis = positions(finer, settings.bounds, device)
        points = torch.stack([axis[index[:, 0]], axis[index[:, 1]], axis[index[:, 2]]], dim=-1)
        upsampled[mask] = _query(query, points, settings.chunk)
        queried += len(points)
        grid = upsampled
    if stats is not None:
        stats.queried, stats.dense = queried, (settings.resolution + 1) ** 3
    return grid


def extract_surface(grid: torch.Tensor, bounds: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices and faces (wound outwards) of the zero level, or None when the grid has no surface."""
    from skimage import measure

    values = grid.float().cpu().numpy()
    if not (values.min() < LEVEL < values.max()):
        log.warning("no surface in the decoded volume: the field lies in [%.3g, %.3g]", values.min(), values.max())
        return None
    vertices, faces, _, _ = measure.marching_cubes(values, LEVEL, method="lewiner")
    resolution = values.shape[0] - 1
    vertices = vertices * (2 * bounds / resolution) - bounds
    # Positive inside: marching cubes winds towards larger values, so reverse to face outwards.
    return vertices.astype(np.float32), np.ascontiguousarray(faces[:, ::-1]).astype(np.int64)
