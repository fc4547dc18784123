"""One latent drawn by AutoPartGen's DiT: seeded noise, the release's scheduler, guided passes batched.

As the release samples (``DiffusionSampler``; ``guidance`` gives the facts): the starting noise from a
generator seeded with the seed, the scheduler's stochastic steps from a second generator seeded the
same; the guided passes run as one batch, unconditional first. The result is divided by the scale
factor (the VAE's latent space). A cancel is checked before every step.
"""

from __future__ import annotations

from typing import Callable

import torch

from ...env.job_control import CancelToken
from .guidance import WHOLE_SCALE, Guidance, scheduler
from .loader import AutoPartGenNetworks

Combine = Callable[[torch.Tensor], torch.Tensor]   # the batch's predictions -> one guided prediction


def _sample(networks: AutoPartGenNetworks, images: torch.Tensor, histories: torch.Tensor, combine: Combine,
            seed: int, steps: int, cancel: CancelToken) -> torch.Tensor:
    dit, cfg = networks.dit, networks.config.dit
    device = networks.device
    noise_generator = torch.Generator(device).manual_seed(seed)
    step_generator = torch.Generator(device).manual_seed(seed)
    x = torch.randn((1, cfg.latents, cfg.in_channels), generator=noise_generator, device=device)
    sampler = scheduler()
    sampler.set_timesteps(steps, device=device)
    batch = images.shape[0]
    for t in sampler.timesteps:
        cancel.check()
        with torch.no_grad():
            v = dit(x.expand(batch, -1, -1), t.expand(batch).to(device), images, histories).float()
        x = sampler.step(combine(v), t, x, generator=step_generator).prev_sample
    return x / cfg.scale_factor


def sample_whole(networks: AutoPartGenNetworks, whole: torch.Tensor, dropped: torch.Tensor, seed: int,
                 steps: int, cancel: CancelToken) -> torch.Tensor:
    """The whole object's latent from a picture's features [1, T, W] (unscaled latent [1, N, C])."""
    cfg = networks.config.dit
    sot = torch.zeros((1, 1, cfg.latents, cfg.latent_dim), device=networks.device)
    images = torch.cat([torch.cat([dropped, dropped], -1), torch.cat([whole, whole], -1)])
    return _sample(networks, images, sot.expand(2, -1, -1, -1), lambda v: v[:1] + WHOLE_SCALE * (v[1:] - v[:1]),
                   seed, steps, cancel)


def sample_part(networks: AutoPartGenNetworks, image: torch.Tensor, dropped: torch.Tensor, history: torch.Tensor,
                guidance: Guidance, seed: int, steps: int, cancel: CancelToken) -> torch.Tensor:
    """One part's latent (unscaled [1, N, C]): ``image`` [1, T, 2W] (whole and part features),
    ``dropped`` [1, T, 2W] (the black picture's, twice), ``history`` [1, 2, N, C] (scaled)."""
    images = torch.cat([dropped, image, dropped])
    histories = torch.cat([torch.zeros_like(history), history, history])
    return _sample(networks, images, histories, lambda v: guidance.combine(v[0:1], v[1:2], v[2:3]),
                   seed, steps, cancel)
