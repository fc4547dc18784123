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
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any


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
