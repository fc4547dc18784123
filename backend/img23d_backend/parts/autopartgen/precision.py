"""Which of AutoPartGen's work runs in bfloat16 on a GPU, and which stays in float32.

The release (facebookresearch/AutoPartGen, ``autopartgen.py``: its pipeline's ``float_precision``
defaults to bfloat16) keeps float32 weights and runs its whole part loop under
``torch.autocast("cuda", dtype=bfloat16)`` when CUDA is there: DINOv2, the DiT's guided passes, the
VAE's encoding and its field queries; on a CPU it runs float32. img23d does the same (``autocast``
around both of ``generator.generate``'s phases), with two pieces kept in float32 because they decide
geometry, not appearance:

* the scheduler's update (``denoise``: the DiT's prediction is taken ``.float()`` and the latent stays
  float32 between steps, as autocast leaves everything but matrix products and convolutions);
* the field's last projection (``vae.ShapeVAE.query``: ``proj_out`` outside autocast), whose sign places
  the surface. The release rounds it to bfloat16 too; in float32 it costs one 1024-wide dot product
  per query point.

On a CUDA GPU the DiT's batch-3 forward took 0.074 s under bfloat16 autocast against 0.508 s in float32
(the full-size architecture on a lent H200, issue 74). On the tiny replica the difference autocast makes
is measured by ``tests/backend/parts/test_autopartgen_precision.py`` under the CPU's bfloat16 autocast (the same
rounding): the DiT's batch-3 velocity moved by 1.1 % of its float32 norm (the test allows 3 %), the decoded
field's sign the same at 99.89 % of 20,000 random points (it asks 99 %). A CPU runs float32: bfloat16
products there are slower on most CPUs and the release does not use them.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, ContextManager

import torch

GPU_DTYPE = torch.bfloat16


def autocast(device: Any) -> ContextManager[Any]:
    """bfloat16 autocast on a CUDA device (the release's way); nothing elsewhere."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind != "cuda":
        return nullcontext()
    return torch.autocast(device_type="cuda", dtype=GPU_DTYPE)


def full_precision(device: Any) -> ContextManager[Any]:
    """Autocast off inside a block that decides geometry (see the module's docstring)."""
    kind = getattr(device, "type", str(device).split(":")[0])
    return torch.autocast(device_type=kind, enabled=False) if kind in ("cuda", "cpu") else nullcontext()
