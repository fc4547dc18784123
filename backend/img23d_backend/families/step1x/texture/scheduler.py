"""Upstream's sampler: DDPM over SDXL's noise schedule with its signal-to-noise ratio shifted.

Step1X-3D's texture pipeline (as MV-Adapter's) wraps the base model's scheduler with
``ShiftSNRScheduler.from_scheduler(..., shift_mode="interpolated", shift_scale=8.0,
scheduler_class=DDPMScheduler)`` (``step1x3d_texture/schedulers/``, Apache-2.0): the SNR of
training step t, SNR_t = abar_t / (1 - abar_t) from SDXL's scaled-linear betas, is divided by 8 in
log-space proportion to t (nothing at t = 0, all of it at t = 999), turned back into betas, and
a ``DDPMScheduler`` is made from the base scheduler's config with those as ``trained_betas``. The
adapter was trained on that shifted schedule (``shift_noise_scale: 8``). SDXL's config supplies
the rest: 1000 training steps, "leading" spacing with offset 1, epsilon prediction, no clipping.
"""

from __future__ import annotations

from typing import Any

import torch

SHIFT_SCALE = 8.0


def shifted_betas(alphas_cumprod: torch.Tensor, shift_scale: float = SHIFT_SCALE) -> torch.Tensor:
    """Upstream's ``_get_interpolated_shift_scheduler``: betas whose SNR is SDXL's interpolated in
    log space towards SNR / ``shift_scale`` as the step grows."""
    steps = alphas_cumprod.shape[0]
    # Upstream's compute_snr, operation for operation: (sqrt(abar) / sqrt(1 - abar))^2.
    snr = ((alphas_cumprod ** 0.5).float() / ((1.0 - alphas_cumprod) ** 0.5).float()) ** 2
    weight = torch.arange(steps, dtype=torch.float32) / (steps - 1)
    interpolated = torch.exp(torch.log(snr) * (1 - weight) + torch.log(snr / shift_scale) * weight)
    # Upstream's SNR_to_betas, operation for operation: abar = (sqrt(snr / (1 + snr)))^2.
    shifted = ((interpolated / (1 + interpolated)) ** 0.5) ** 2
    previous = torch.cat([torch.ones(1), shifted[:-1]])
    return 1 - shifted / previous


def make_scheduler(base_config: dict[str, Any], shift_scale: float = SHIFT_SCALE) -> Any:
    """The DDPM scheduler upstream samples with, from SDXL's ``scheduler_config.json``."""
    from diffusers import DDPMScheduler, EulerDiscreteScheduler

    # Upstream takes the schedule from the scheduler the base folder names (Euler for SDXL);
    # its alphas_cumprod depend only on the betas, so any of diffusers' schedulers gives the same.
    base = EulerDiscreteScheduler.from_config(base_config)
    betas = shifted_betas(base.alphas_cumprod, shift_scale)
    return DDPMScheduler.from_config(base.config, trained_betas=betas.numpy())
