"""Corrections to hy3dgen 2.0.2's shape pipeline, applied where we load and run it.

hy3dgen's installed files are never edited: a user's environment may share them, and a
reinstall would silently undo the edit. Each correction here is applied to the objects the
pipeline builds, in the one place that builds or runs them (``stages/shape``):

* ``float32_schedule`` - the turbo variants' ``ConsistencyFlowMatchEulerDiscreteScheduler``
  builds its sigmas with ``np.linspace`` (float64) and moves the timesteps made from them to
  the device; MPS has no float64, so turbo models fail on Apple GPUs. Upstream Hunyuan3D-2
  later cast the sigmas to float32 where the scheduler is built; this does the same to the
  built scheduler.
* ``surface_extractor`` - hy3dgen's dual marching cubes (``dmc``, CUDA package ``diso``) asks
  diso for vertices normalised to [0, 1] and then centres them: a mesh about 1 across around
  the origin, where its marching cubes (``mc``) maps the grid onto the bounds (2 * 1.01
  across, not re-centred). DMC meshes came out at half the size of MC meshes, and shifted.
  Our DMC extractor puts the vertices where MC puts them.
* ``sign_changes`` - FlashVDM's test for the cells near the surface, as hy3dgen's
  ``extract_near_surface_volume_fn`` makes it (the same cells), without its indexing by a list of
  slices, which PyTorch warns of on every decoded shape (a warning in the artist's terminal).
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

from ...env.gpu_knobs import without_cudnn_attention


def float32_schedule(scheduler: Any) -> Any:
    """Cast the scheduler's float64 sigma and timestep tables to float32 (in place); returns it."""
    import torch

    for name in ("sigmas", "timesteps"):
        table = getattr(scheduler, name, None)
        if isinstance(table, torch.Tensor) and table.dtype == torch.float64:
            setattr(scheduler, name, table.to(torch.float32))
    return scheduler


def dmc_available(device: Any) -> bool:
    """Dual marching cubes needs the CUDA package diso and a CUDA device."""
    return getattr(device, "type", str(device)) == "cuda" and importlib.util.find_spec("diso") is not None


def surface_extractor(device: Any) -> Any:
    """A surface extractor for hy3dgen's VAE on ``device``; every kind gives meshes in one frame."""
    if dmc_available(device):
        return _dmc_in_mc_frame()()
    from hy3dgen.shapegen.models.autoencoders import SurfaceExtractors

    return SurfaceExtractors["mc"]()


@functools.cache
def _dmc_in_mc_frame() -> type:
    # Built on first use: subclassing hy3dgen's class needs hy3dgen imported, which is heavy.
    from hy3dgen.shapegen.models.autoencoders.surface_extractors import DMCSurfaceExtractor

    class DMCInMCFrame(DMCSurfaceExtractor):
        """hy3dgen's DMC, with vertices in MC's frame: grid index / (resolution + 1) * size + min."""

        def run(self, grid_logit: Any, *, mc_level: float, bounds: Any, octree_resolution: int,
                **kwargs: Any) -> tuple[Any, Any]:
            import torch

            if not hasattr(self, "dmc"):
                from diso import DiffDMC

                self.dmc = DiffDMC(dtype=torch.float32).to(grid_logit.device)
            # Negative inside, zero at MC's level (hy3dgen's DMC used level 0 instead of mc_level).
            sdf = ((mc_level - grid_logit) / octree_resolution).to(torch.float32).contiguous()
            # normalize=False: vertices in grid index units, as skimage's marching cubes returns them.
            verts, faces = self.dmc(sdf, deform=None, return_quads=False, normalize=False)
            grid_size, bbox_min, bbox_size = self._compute_box_stat(bounds, octree_resolution)
            vertices = verts.detach().cpu().numpy() / grid_size * bbox_size + bbox_min
            # Reversed, as hy3dgen's own DMC reverses them, to wind the way MC's faces do.
            return vertices, faces.detach().cpu().numpy()[:, ::-1]

    return DMCInMCFrame


# --- FlashVDM volume decoding, corrected ---------------------------------------------------------
#
# hy3dgen 2.0.2's FlashVDMVolumeDecoding decodes a coarse grid, then refines only the points near
# its surface at twice the resolution, level after level, each chunk of queries attending to the
# latents it needs most (adaptive KV selection). Three faults, corrected here:
# * its grid has 4k - 1 cells a side times 2^n (252 for octree 256), but the surface extractor is
#   then told the octree resolution (256): meshes come out about 2% small. ``FlashVDMDecoder``
#   returns the resolution it sampled at and ``into_octree_frame`` puts the vertices where dense
#   decoding at the asked resolution puts them.
# * points it does not refine stay at -10000 (then NaN): outside, wherever they are. The inside
#   of the object becomes "outside" a few cells under the surface, and marching cubes adds an
#   inner wall there. Here every point starts from the coarser level's field, upsampled.
# * it works on a batch of one only (latents.squeeze(0)); here one target at a time is the
#   interface, and the attention processor is restored afterwards (hy3dgen leaves the FlashVDM
#   one in place, and its "restore default" installs a class instead of an instance).
# HierarchicalVolumeDecoding, the same without KV selection, is broken (queries collapse to one
# corner) and is not used.

MIN_COARSE_RESOLUTION = 63  # hy3dgen's: levels are halved down to this
MINI_GRID = 4               # the coarse level is decoded in 4 x 4 x 4 blocks, each with its own keys
NEAR_SURFACE = 0.95         # |logit| below this counts as near the surface (hy3dgen's threshold)
UNDECODED = -9000.0         # hy3dgen's mark for a grid value not decoded (its near-surface test skips them)
_REFINE_CELLS = 6           # refined points are grouped in 6 x 6 x 6 cells for key selection


def flashvdm_levels(octree_resolution: int, min_resolution: int = MIN_COARSE_RESOLUTION) -> list[int]:
    """The grid resolutions FlashVDM samples, coarse to fine, as hy3dgen computes them."""
    levels = [octree_resolution]
    while levels[-1] // 2 >= min_resolution:
        levels.append(levels[-1] // 2)
    levels.reverse()
    first = max(MINI_GRID, round(levels[0] / MINI_GRID) * MINI_GRID) - 1
    return [first * 2 ** i for i in range(len(levels))]


def into_octree_frame(vertices: Any, bounds: float, grid_resolution: int, octree_resolution: int) -> Any:
    """Vertices an extractor placed for a ``grid_resolution`` grid, moved to where it places them
    for an ``octree_resolution`` grid over the same bounds (hy3dgen's extractors divide grid
    indices by resolution + 1, so the two frames differ in scale)."""
    low = -float(bounds)
    factor = (grid_resolution + 1) / grid_resolution * octree_resolution / (octree_resolution + 1)
    return low + (vertices - low) * factor


class FlashVDMDecoder:
    """One target's occupancy grid by FlashVDM: (logits [(R + 1)^3] float32, R)."""

    def __init__(self, min_resolution: int = MIN_COARSE_RESOLUTION, select_keys: bool = True) -> None:
        """``select_keys=False`` lets every query attend to every latent: exact, slower; it
        separates the pruning's effect from the key selection's."""
        from hy3dgen.shapegen.models.autoencoders.attention_processors import FlashVDMCrossAttentionProcessor

        self.processor = FlashVDMCrossAttentionProcessor() if select_keys else _EveryKey()
        self.min_resolution = min_resolution

    def __call__(self, latents: Any, geo_decoder: Any, *, bounds: float, octree_resolution: int,
                 num_chunks: int, mc_level: float = 0.0) -> tuple[Any, int]:
        import torch

        if latents.shape[0] != 1:
            raise ValueError("FlashVDM decodes one target at a time")
        levels = flashvdm_levels(octree_resolution, self.min_resolution)
        attention = geo_decoder.cross_attn_decoder.attn.attention
        previous = attention.attn_processor
        geo_decoder.set_cross_attention_processor(self.processor)
        try:
            # Each cell's attention has as many queries as the cell holds: no per-shape cuDNN plans.
            with torch.inference_mode(), without_cudnn_attention():
                grid = self._coarse(latents, geo_decoder, float(bounds), levels[0], num_chunks)
                for number, resolution in enumerate(levels[1:], start=2):
                    grid = self._refine(grid, latents, geo_decoder, float(bounds), resolution, num_chunks,
                                        mc_level, last=number == len(levels))
        finally:
            attention.attn_processor = previous
        return grid.float(), levels[-1]

    def _coarse(self, latents: Any, geo_decoder: Any, bounds: float, resolution: int, num_chunks: int) -> Any:
        import torch

        side = resolution + 1  # a multiple of MINI_GRID
        block = side // MINI_GRID
        # float32 whatever the decoder's dtype (see grid_points); the decoder casts the embedding.
        axis = torch.linspace(-bounds, bounds, side, device=latents.device, dtype=torch.float32)
        points = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)
        # [side]^3 -> [blocks, points per block]: each block of neighbours picks its own keys.
        blocks = points.view(MINI_GRID, block, MINI_GRID, block, MINI_GRID, block, 3)
        blocks = blocks.permute(0, 2, 4, 1, 3, 5, 6).reshape(MINI_GRID ** 3, block ** 3, 3)
        per_call = max(1, num_chunks // block ** 3)
        logits = []
        for start in range(0, blocks.shape[0], per_call):
            queries = blocks[start:start + per_call]
            self.processor.topk = True
            logits.append(geo_decoder(queries=queries, latents=latents.expand(queries.shape[0], -1, -1)))
        values = torch.cat(logits).view(MINI_GRID, MINI_GRID, MINI_GRID, block, block, block)
        return values.permute(0, 3, 1, 4, 2, 5).reshape(side, side, side)

    def _refine(self, coarse: Any, latents: Any, geo_decoder: Any, bounds: float, resolution: int,
                num_chunks: int, mc_level: float, last: bool) -> Any:
        import torch
        import torch.nn.functional as F

        side = resolution + 1
        near = sign_changes(coarse, mc_level) | (coarse.abs() < NEAR_SURFACE)

        if not last:
            near = dilate(near)
        chosen = torch.zeros((side,) * 3, dtype=torch.bool, device=coarse.device)
        chosen[::2, ::2, ::2] = near
        for _ in range(1 if not last else 2):
            chosen = dilate(chosen)
        # Every point starts from the coarser field: far from the surface its sign is right.
        grid = F.interpolate(coarse[None, None].float(), size=(side,) * 3, mode="trilinear",
                             align_corners=True)[0, 0].to(latents.dtype)
        index = chosen.nonzero()
        if len(index) == 0:
            return grid
        points = grid_points(index, bounds, resolution)
        # Sort by coarse cell so each chunk's queries are neighbours that share their keys.
        cell = (index * _REFINE_CELLS // side)
        cell_id = (cell[:, 0] * _REFINE_CELLS + cell[:, 1]) * _REFINE_CELLS + cell[:, 2]
        order = torch.argsort(cell_id, stable=True)
        index, points, cell_id = index[order], points[order], cell_id[order]
        cells, counts = torch.unique_consecutive(cell_id, return_counts=True)
        values = torch.empty(len(points), dtype=latents.dtype, device=latents.device)
        start, group_cells, group_counts = 0, [], []
        for cell_value, count in zip(cells.tolist(), counts.tolist()):
            if group_counts and sum(group_counts) + count > num_chunks:
                start = self._query(values, points, start, group_cells, group_counts, latents, geo_decoder)
                group_cells, group_counts = [], []
            group_cells.append(cell_value)
            group_counts.append(count)
        self._query(values, points, start, group_cells, group_counts, latents, geo_decoder)
        grid[index[:, 0], index[:, 1], index[:, 2]] = values
        return grid

    def _query(self, values: Any, points: Any, start: int, cells: list[int], counts: list[int], latents: Any,
               geo_decoder: Any) -> int:
        end = start + sum(counts)
        self.processor.topk = [cells, counts]  # one key selection per cell
        values[start:end] = geo_decoder(queries=points[None, start:end], latents=latents)[0, :, 0]
        return end


def dilate(mask: Any) -> Any:
    """``mask`` (bool) grown by one cell in each of the 26 directions: the 3 x 3 x 3 maximum, as hy3dgen's
    ``max_pool3d`` of the mask as floats, done axis by axis on the bools (a cube's maximum is the maximum
    along each axis in turn). Exactly the same cells: on a CPU the pooling took 2.5 s of a tiny textured
    object's decoding at octree 256 (four calls over 257^3 cells), the three passes a tenth of it."""
    grown = mask.clone()
    for axis in range(mask.dim()):
        before, side = grown, grown.shape[axis]
        grown = before.clone()
        grown.narrow(axis, 1, side - 1).logical_or_(before.narrow(axis, 0, side - 1))
        grown.narrow(axis, 0, side - 1).logical_or_(before.narrow(axis, 1, side - 1))
    return grown


def sign_changes(values: Any, alpha: float) -> Any:
    """Where ``values + alpha`` changes sign to one of a cell's six face neighbours (the grid's edges replicated),
    the cells at or below ``UNDECODED`` (not decoded) neither marked nor counted: what hy3dgen's
    ``extract_near_surface_volume_fn`` marks, as a bool grid. Its own indexes a tensor with a list of slices,
    which PyTorch warns about on every shape (the indexing is to change meaning in a later release)."""
    import torch
    import torch.nn.functional as F

    shifted = values + alpha
    sign = torch.sign(shifted.float())
    padded = F.pad(shifted[None, None], (1, 1) * 3, mode="replicate")[0, 0]
    changes = torch.zeros(shifted.shape, dtype=torch.bool, device=shifted.device)
    inner = slice(1, -1)
    for axis in range(3):
        for low in (0, 2):
            window = [inner, inner, inner]
            window[axis] = slice(low, low + shifted.shape[axis])
            neighbour = padded[tuple(window)]
            neighbour = torch.where(neighbour > UNDECODED, neighbour, shifted)
            changes |= torch.sign(neighbour.float()) != sign
    return changes & (shifted > UNDECODED)


def grid_points(index: Any, bounds: float, resolution: int) -> Any:
    """The positions of grid points ``index`` [N, 3] on a ``resolution`` grid over [-bounds, bounds],
    in float32 whatever the decoder's dtype: in fp16 (10 mantissa bits) a position near 1 is off by
    up to 0.001, a fifth of a voxel at octree 380. The decoder's Fourier embedding takes float32
    positions and casts its output to the latents' dtype."""
    import torch

    return index.to(torch.float32) * (2 * bounds / resolution) - bounds


class _EveryKey:
    """A FlashVDM attention processor that ignores its key selection (``topk``)."""

    topk: Any = None

    def __call__(self, attn: Any, q: Any, k: Any, v: Any) -> Any:
        import torch.nn.functional as F

        return F.scaled_dot_product_attention(q, k, v)
