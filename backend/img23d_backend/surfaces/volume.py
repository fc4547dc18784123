"""From a field at query points to a mesh: a coarse grid first, then finer grids near the surface.

Written for img23d from the method upstream's decoder describes (upstream's ``volume_decoders.py``
is Tencent-licensed and is not used or copied). The field is queried densely on a coarse grid over
``[-bounds, bounds]^3``; each finer level doubles the resolution, takes the coarser grid's values
trilinearly everywhere, and queries the decoder again only near the surface: in and next to every
coarse cell whose corners' signs differ, and every cell with a corner whose value lies within
``band`` of the surface level. The band is what keeps thin parts: a blade, a sheet or a wire
thinner than a coarse cell may fall between two coarse samples of one sign, and no sign change
then marks it; for a signed distance truncated at 0.01 and scaled to [-1, 1] (upstream's
``tsdf_threshold``; its README calls the field a TSDF) a coarse sample within 0.0095 of any surface
reads inside the band (upstream: |value| < 0.95). That keeps a sheet wherever it lies only when it is at
least a coarse cell less twice 0.0095 thick (0.033 - 0.019 = 0.014 at 64 coarse cells); a thinner one
lying midway between two coarse samples is lost whole, where a dense grid keeps it (a plate 0.008 thick:
tested), as with upstream's own decoder. So the dense decoder's choice (Quality Standard or High) starts
from ``THIN_COARSE`` cells, close enough that no sheet falls between samples the band reaches.

Upstream's published VAE training config leaves the target a raw signed distance (its
``supervision_type`` default, "sdf": no truncation). For such a field the band holds most of the
volume and the finer levels would query more points than one dense grid (octree 384: 64 million
against 57, about 14 hours of the full-size decoder on a 2-core CPU; ``bench/step1x_band.py``). So the share of coarse samples in the band is measured first; past
``band_share_bound`` (a quarter) the band is narrowed to what a truncated field's gives, 0.0095
units of distance each side of the surface, converted to the field's own units by its slope near
the surface (the median gradient on the coarse grid at the corners of the cells whose signs
change); should even that hold more than the bound (no usable slope), only the cells whose signs
change are refined. Either is said once, in ``GridStats.note``. The coarsest level is the finest
resolution halved while it stays at least ``min_coarse`` cells (64; upstream's decoder stops at
63), so a coarse cell is at most 2.1 / 64 = 0.033 units wide. The finest level is ``resolution``;
scikit-image's marching cubes extracts the zero level. Positions are float32 whatever the
decoder's dtype, and a grid index ``i`` lies at ``-bounds + i * 2 bounds / resolution`` exactly
(upstream's extractor divides by ``resolution + 1``, shrinking every mesh by a voxel's width; here
the vertices are where the decoder was asked).

Whatever the field, the surface is bounded: before each finer level the cells whose signs change are
counted, and where the surface would pass ``max_faces`` triangles at that level (about
``FACES_PER_CELL`` a crossing cell, four times as many crossing cells a level) the grid stops there and
is extracted as it is, said once in ``GridStats.note``. A decoder's real surface stays far below it (a
part filling the whole box at 512: about a million); a random field (the tiny replicas) has a surface
in nearly every cell and made 8.4 million triangles at 256, 10 GB in the clean-up that followed.
"""

from __future__ import annotations

import logging
import math
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
BAND = 0.95            # |value| under this is near a surface (upstream's band, for a TSDF in [-1, 1])
TRUNCATION = 0.01      # the distance a truncated field's +-1 stands for (upstream's tsdf_threshold)
# The coarsest level no sheet of a truncated field can fall between: its cells at most twice the band's
# distance wide (2.1 / 0.019: 111 cells), so every point lies within the band's reach of a coarse sample.
THIN_COARSE = math.ceil(2 * BOUNDS / (2 * BAND * TRUNCATION))
# Past this share of coarse samples in the band the field is not a truncated one: a truncated
# field's band is 0.019 units thick, a quarter of the 2.1-unit cube only for a surface of over 100
# square units, and refining a quarter of the coarse grid already costs a quarter of a dense grid.
BAND_SHARE_BOUND = 0.25
MAX_LEVEL_FACES = 2_000_000  # the surface a level may make at most (see the module's docstring)
# Triangles marching cubes makes per cell whose signs change: 2.0 measured on a sphere, 2.1 on the tiny
# AutoPartGen replica's random field at 64 and 128 (whose crossing cells grow 5.8 times a level, not 4: such a
# field may reach up to about 1.5 times the bound at the level it stops at).
FACES_PER_CELL = 2

QueryFn = Callable[[torch.Tensor], torch.Tensor]  # points [M, 3] float32 -> values [M] float32


@dataclass(frozen=True)
class GridSettings:
    resolution: int = 384       # the finest grid's cells per side (upstream's pipeline default)
    bounds: float = BOUNDS
    chunk: int = CHUNK
    min_coarse: int = MIN_COARSE   # the coarsest level has at least this many cells a side
    band: float = BAND          # refine around every sample whose |value| is below this
    band_share_bound: float = BAND_SHARE_BOUND   # past this share of coarse samples in the band, narrow it
    max_faces: int = MAX_LEVEL_FACES  # no finer level whose surface would pass this many triangles

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
    def for_octree(cls, octree: int, chunk: int = CHUNK, min_coarse: int = MIN_COARSE) -> "GridSettings":
        """A job's octree resolution, rounded up to a multiple of the steps from a coarsest level of
        at least ``min_coarse`` cells (so every level halves exactly): 256 -> 64, 128, 256; 384 -> 96,
        192, 384; 200 -> 100, 200; under 128 one dense level. With ``THIN_COARSE`` (the dense decoder's
        choice) no sheet is lost: 256 -> 128, 256; 384 -> 192, 384; under 222 one dense level."""
        step = 1
        while octree // (2 * step) >= min_coarse:
            step *= 2
        return cls(resolution=max(2, -(-octree // step) * step), chunk=chunk, min_coarse=min_coarse)


@dataclass
class GridStats:
    queried: int = 0            # decoder queries made
    dense: int = 0              # what one dense grid at the finest resolution would have made
    band_share: float = 0.0     # the coarse samples within the asked band (0 for one dense level)
    band: float = 0.0           # the band the finer levels refined within
    note: str = ""              # one sentence when the band was narrowed or the grid stopped early, else empty
    resolution: int = 0         # the cells per side of the grid returned (under the asked one when it stopped early)
    stopped: str = ""           # one sentence when the grid stopped short of the asked resolution, else empty


@dataclass(frozen=True)
class Band:
    value: float                # refine around every sample whose |value| is below this
    share: float                # the coarse samples within the asked band
    note: str = ""              # why it differs from the asked band, when it does


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


def _crossing_cells(grid: torch.Tensor, level: float) -> torch.Tensor:
    """Cells [1, 1, n, n, n] of a vertex grid [n+1]^3 whose eight corners are not all on one side of ``level``."""
    inside = (grid > level).float()[None, None]
    return F.max_pool3d(inside, kernel_size=2, stride=1) != -F.max_pool3d(-inside, kernel_size=2, stride=1)


def _near_cells(grid: torch.Tensor, level: float, band: float) -> torch.Tensor:
    """Cells [n, n, n] of a vertex grid [n+1]^3 to refine: those whose eight corners are not all on
    one side of ``level``, or with a corner within ``band`` of it (a surface thinner than the cell
    may pass between corners of one sign), and every cell next to one of those."""
    banded = F.max_pool3d(((grid - level).abs() < band).float()[None, None], kernel_size=2, stride=1)
    marked = (_crossing_cells(grid, level) | (banded > 0)).float()
    return F.max_pool3d(marked, kernel_size=3, stride=1, padding=1)[0, 0] > 0


def _slope_near_surface(grid: torch.Tensor, spacing: float, within: torch.Tensor) -> float:
    """The field's change per unit of distance near its surface: the median gradient magnitude at
    the corners of the cells whose signs change (at the band's samples when none do). About 1 for a
    raw signed distance; about 1 / TRUNCATION where a truncated one changes."""
    corners = F.max_pool3d(_crossing_cells(grid, LEVEL).float(), kernel_size=2, stride=1, padding=1)[0, 0] > 0
    where = corners if bool(corners.any()) else within
    if not bool(where.any()):
        return 0.0
    slope = torch.stack(torch.gradient(grid, spacing=spacing)).norm(dim=0)
    return float(slope[where].median())


def refinement_band(grid: torch.Tensor, settings: GridSettings) -> Band:
    """The band the finer levels refine within, judged on the coarsest grid [n+1]^3: the asked one
    while at most ``band_share_bound`` of its samples lie in it; else one as thick as a truncated
    field's, in this field's units; else none (only cells whose signs change)."""
    distance = (grid - LEVEL).abs()
    share = float((distance < settings.band).float().mean())
    if share <= settings.band_share_bound:
        return Band(settings.band, share)
    width = settings.band * TRUNCATION    # a truncated field's band, in units of distance
    narrowed = _slope_near_surface(grid, 2 * settings.bounds / (grid.shape[0] - 1), distance < settings.band) * width
    found = (f"{share:.0%} of the coarse grid lies within the band of the surface (|value| < {settings.band:g}), "
             "so the field is not a truncated distance: ")
    if 0 < narrowed < settings.band and float((distance < narrowed).float().mean()) <= settings.band_share_bound:
        return Band(narrowed, share, found + f"refining within |value| < {narrowed:.3g} instead, {width:g} units "
                                             "either side of the surface as a truncated field's band")
    return Band(0.0, share, found + "refining only the cells whose signs change (a part thinner than a coarse "
                                    "cell may be lost)")


def hierarchical_grid(query: QueryFn, settings: GridSettings, device: torch.device,
                      stats: GridStats | None = None) -> torch.Tensor:
    """The field on the finest grid, [resolution + 1]^3 float32, queried densely only at the coarsest."""
    levels = settings.resolutions()
    grid = _dense(query, levels[0], settings, device)
    queried = grid.numel()
    band = refinement_band(grid, settings) if len(levels) > 1 else Band(settings.band, 0.0)
    stopped = ""
    for resolution, finer in zip(levels, levels[1:]):
        crossing = int(_crossing_cells(grid, LEVEL).sum())
        if crossing * 4 * FACES_PER_CELL > settings.max_faces:
            stopped = (f"the surface would have about {crossing * 4 * FACES_PER_CELL:,} triangles at {finer} cells "
                       f"a side (over {settings.max_faces:,}), so it was taken at {resolution}")
            break
        near = _near_cells(grid, LEVEL, band.value)
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
        stats.band_share, stats.band = band.share, band.value
        stats.note = "; ".join(note for note in (band.note, stopped) if note)
        stats.stopped = stopped
        stats.resolution = grid.shape[0] - 1
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
