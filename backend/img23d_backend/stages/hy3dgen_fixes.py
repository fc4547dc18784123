"""Corrections to hy3dgen 2.0.2's shape pipeline, applied where we load and run it.

hy3dgen's installed files are never edited: a user's environment may share them, and a
reinstall would silently undo the edit. Each correction here is applied to the objects the
pipeline builds, in the one place that builds or runs them (``stages/shape``):

* ``float32_schedule`` - the turbo variants' ``ConsistencyFlowMatchEulerDiscreteScheduler``
  builds its sigmas with ``np.linspace`` (float64) and moves the timesteps made from them to
  the device; MPS has no float64, so turbo models fail on Apple GPUs. Upstream Hunyuan3D-2
  later cast the sigmas to float32 where the scheduler is built; this does the same to the
  built scheduler.
"""

from __future__ import annotations

from typing import Any


def float32_schedule(scheduler: Any) -> Any:
    """Cast the scheduler's float64 sigma and timestep tables to float32 (in place); returns it."""
    import torch

    for name in ("sigmas", "timesteps"):
        table = getattr(scheduler, name, None)
        if isinstance(table, torch.Tensor) and table.dtype == torch.float64:
            setattr(scheduler, name, table.to(torch.float32))
    return scheduler
