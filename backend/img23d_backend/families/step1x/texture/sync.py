"""Upstream's texture sync: the six views' latents kept consistent through one latent UV texture during
the first half of the sampling, seeded.

Written from the method of upstream's ``IG2MVSDXLPipeline.__call__`` (``pipelines/ig2mv_sdxl_pipeline.py``,
Apache-2.0, HuggingFace's header) and ``texture_sync/step_sync.py`` (``step_tex_sync``; no licence
header: SyncMVD's, MIT, over diffusers' ``DDPMScheduler.step``, Apache-2.0), with
``Step1X3DTextureConfig.texture_sync_config``'s values; no Tencent code. Upstream:

* **The start.** One noise texture (N(0, 1) per texel and latent channel) is rendered into the six
  views; each view's background is the sampler's own starting noise, composited as below at
  t = the first timestep + 1.
* **The synchronised steps**, every step with t > (1 - 0.5) x 1000 (25 of 50: t = 981, 961, ... 501).
  From the guided noise prediction, each view's x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) is
  baked into the texture (``uv_latents``) with the views' cosines to the power
  exp = 6 i / steps (step i; an exp of 0 is taken as 1, as upstream's ``if not exp: exp = 1`` does);
  DDPM's posterior is taken on the texture, mu = c0 x0_texture + ct texture with the texture of
  the step before (not the views), plus sqrt(beta~_t) times texture-space noise; the texture is
  rendered into the views, and each view's background is a random colour's latent noised as
  (1 - abar_t) noise + abar_t latent (upstream's mix, with the step's own t) behind the
  mesh's silhouette.
* **The colours**: 14 (black, white and twelve others, as -1/0/1 per RGB channel) encoded by the
  VAE at the view size; one drawn per view at the start and again after each step while
  1 - t / 1000 < 0.4, black or white while it is < 0.99.
* The other steps are the scheduler's own, on the views.

img23d's differences: every random number (the noise texture, the texture's noise, the background
noise, the colours, the colour latents' VAE samples) comes from the sampler's seeded CPU generator,
where upstream uses the global RNG and ``random.choice`` (unseeded); the colours are encoded when
first drawn, in the model's dtype (upstream upcasts the VAE to float32 for them); colours are drawn
only while synchronised steps remain (upstream draws after every step; those are never used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .loader import Step1XTextureModel
from .uv_latents import LatentAtlas

SYNC_TEXTURE_SIZE = 1536
SYNC_RATIO = 0.5
EXP_START, EXP_END = 0.0, 6.0
SHUFFLE_CHANGE, SHUFFLE_END = 0.4, 0.99
# Upstream's background colours, RGB in [-1, 1], in its order.
COLOURS = {"black": (-1, -1, -1), "white": (1, 1, 1), "maroon": (0, -1, -1), "red": (1, -1, -1),
           "olive": (0, 0, -1), "yellow": (1, 1, -1), "green": (-1, 0, -1), "lime": (-1, 1, -1),
           "teal": (-1, 0, 0), "aqua": (-1, 1, 1), "navy": (-1, -1, 0), "blue": (-1, -1, 1),
           "purple": (0, -1, 0), "fuchsia": (1, -1, 1)}
LATE_COLOURS = ("black", "white")


@dataclass(frozen=True)
class SyncSettings:
    """Whether the views are synchronised, and how; every default is upstream's."""

    enabled: bool = True
    texture_size: int = SYNC_TEXTURE_SIZE     # the latent texture's side in texels
    ratio: float = SYNC_RATIO                 # steps with t > (1 - ratio) x the training steps are synchronised
    exp_start: float = EXP_START
    exp_end: float = EXP_END

    def check(self) -> None:
        if self.texture_size < 2:
            raise ValueError(f"a sync texture of {self.texture_size} texels is too small: use at least 2")
        if not 0.0 <= self.ratio <= 1.0:
            raise ValueError(f"the sync ratio must be from 0 to 1, not {self.ratio}")


@dataclass
class TextureSync:
    """One sampling's synchronisation: its latent texture, background colours and random numbers."""

    model: Step1XTextureModel
    atlas: LatentAtlas
    scheduler: Any
    generator: torch.Generator
    settings: SyncSettings
    size: int                                   # the views' side in pixels
    texture: torch.Tensor = field(init=False)   # [K, C]
    colours: list[str] = field(default_factory=list)
    _colour_latents: dict[str, torch.Tensor] = field(default_factory=dict)

    def applies(self, timestep: Any) -> bool:
        """Whether the step at ``timestep`` is synchronised."""
        return float(timestep) > (1 - self.settings.ratio) * self.scheduler.config.num_train_timesteps

    def start(self, latents: torch.Tensor) -> torch.Tensor:
        """The views' starting latents [V, C, s, s]: the noise texture on the mesh, ``latents`` (the
        sampler's own noise) noised again behind it."""
        device, channels = latents.device, latents.shape[1]
        self.texture = self._noise((self.atlas.texels, channels), device)
        self.colours = self._draw(tuple(COLOURS))
        first = int(self.scheduler.timesteps[0]) + 1
        return self._composite(self.atlas.render(self.texture), latents, first)

    def step(self, noise: torch.Tensor, timestep: Any, index: int, latents: torch.Tensor) -> torch.Tensor:
        """One synchronised DDPM step: the views' latents at the step before ``timestep``."""
        if self.scheduler.config.prediction_type != "epsilon" or self.scheduler.config.variance_type != "fixed_small":
            raise ValueError("the texture sync follows a DDPM scheduler predicting epsilon with fixed_small variance")
        t = int(timestep)
        previous = int(self.scheduler.previous_timestep(t))
        abar = self.scheduler.alphas_cumprod.to(latents.device)
        abar_t = abar[t]
        abar_prev = abar[previous] if previous >= 0 else torch.ones((), device=latents.device)
        beta_t = 1 - abar_t / abar_prev
        x0 = (latents - (1 - abar_t) ** 0.5 * noise) / abar_t ** 0.5
        exp = (self.settings.exp_end - self.settings.exp_start) * index / len(self.scheduler.timesteps) \
            + self.settings.exp_start
        baked = self.atlas.bake(x0, exp or 1.0)   # upstream's `if not exp: exp = 1`
        # DDPM's posterior mean (Ho et al. 2020, eq. 7) on the texture, and its variance beta~_t.
        texture = (abar_prev ** 0.5 * beta_t / (1 - abar_t)) * baked \
            + ((1 - beta_t) ** 0.5 * (1 - abar_prev) / (1 - abar_t)) * self.texture
        if t > 0:
            variance = ((1 - abar_prev) / (1 - abar_t) * beta_t).clamp_min(1e-20)
            texture = texture + variance ** 0.5 * self._noise(texture.shape, latents.device)
        self.texture = texture
        backgrounds = torch.stack([self._colour_latent(name, latents) for name in self.colours])
        composited = self._composite(self.atlas.render(texture), backgrounds, t)
        self._shuffle(t)
        return composited

    def _composite(self, views: torch.Tensor, backgrounds: torch.Tensor, timestep: int) -> torch.Tensor:
        """``views`` on the mesh, ``backgrounds`` noised as upstream's ``composite_rendered_view`` off it."""
        abar = self.scheduler.alphas_cumprod[timestep].to(views.device)
        noised = (1 - abar) * self._noise(backgrounds.shape, views.device) + abar * backgrounds
        masks = self.atlas.masks
        return views * masks + noised * (1 - masks)

    def _shuffle(self, timestep: int) -> None:
        progress = 1 - timestep / self.scheduler.config.num_train_timesteps
        if progress < SHUFFLE_CHANGE:
            self.colours = self._draw(tuple(COLOURS))
        elif progress < SHUFFLE_END:
            self.colours = self._draw(LATE_COLOURS)

    def _draw(self, names: tuple[str, ...]) -> list[str]:
        picks = torch.randint(len(names), (len(self.atlas.views),), generator=self.generator)
        return [names[int(pick)] for pick in picks]

    def _noise(self, shape: tuple[int, ...] | torch.Size, device: torch.device) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=self.generator, dtype=torch.float32).to(device)

    def _colour_latent(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """The VAE's latent [C, s, s] of a view filled with colour ``name`` (upstream's ``encode_latents``)."""
        if name not in self._colour_latents:
            vae = self.model.vae
            rgb = torch.tensor(COLOURS[name], dtype=torch.float32).view(1, 3, 1, 1)
            pixels = rgb.expand(1, 3, self.size, self.size).to(like.device, self.model.dtype)
            with torch.inference_mode():
                posterior = vae.encode(pixels).latent_dist
            sample = posterior.mean.float() + posterior.std.float() * self._noise(posterior.mean.shape, like.device)
            self._colour_latents[name] = (sample * vae.config.scaling_factor)[0]
        return self._colour_latents[name]
