"""AutoPartGen's sampler settings and how it combines its guided forward passes.

From the release (facebookresearch/AutoPartGen, ``configs/default.yaml`` ``scheduler`` and
``guidance``, ``autopartgen.py``'s ``_resolve_part_guidance`` and ``diffusion/diffusion.py``'s
``DiffusionSampler``, read only):

* diffusers' ``DPMSolverMultistepScheduler``: 1,000 training steps, scaled-linear betas 0.00085-0.012,
  v-prediction, ``rescale_betas_zero_snr``, ``timestep_spacing`` "trailing", ``algorithm_type``
  "sde-dpmsolver++", ``variance_type`` "fixed_small" (the yaml's other keys belong to other schedulers
  and the release drops them); 50 steps.
* a part step: three passes, [unconditional; image + geometry; geometry only], combined as
  u + s (w_i (ig - g) + w_g (g - u)) with s = max(image, geometry, 1.000001), w = scale / s.
  Scales (image, geometry): 0 / 2 for the image, mesh and image + mesh modes, 5 / 5 with a mask.
* the whole object from a picture: two passes, u + 7 (c - u).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SCHEDULER_CONFIG = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                    "beta_schedule": "scaled_linear", "variance_type": "fixed_small",
                    "prediction_type": "v_prediction", "rescale_betas_zero_snr": True,
                    "timestep_spacing": "trailing", "algorithm_type": "sde-dpmsolver++"}
STEPS = 50
WHOLE_SCALE = 7.0
MIN_SCALE = 1.000001


@dataclass(frozen=True)
class Guidance:
    image: float
    geometry: float

    def combine(self, uncond: torch.Tensor, image_geometry: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        scale = max(self.image, self.geometry, MIN_SCALE)
        weighted = self.image / scale * (image_geometry - geometry) + self.geometry / scale * (geometry - uncond)
        return uncond + scale * weighted


MODES = {"image": Guidance(0.0, 2.0), "mesh": Guidance(0.0, 2.0), "image_mesh": Guidance(0.0, 2.0),
         "image_mask": Guidance(5.0, 5.0), "image_mesh_mask": Guidance(5.0, 5.0)}


def mode(has_image: bool, has_mesh: bool, has_mask: bool) -> str:
    if has_mask:
        return "image_mesh_mask" if has_mesh else "image_mask"
    if has_image and has_mesh:
        return "image_mesh"
    return "mesh" if has_mesh else "image"


def scheduler() -> object:
    """A fresh ``DPMSolverMultistepScheduler`` with the release's settings."""
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler(**SCHEDULER_CONFIG)
