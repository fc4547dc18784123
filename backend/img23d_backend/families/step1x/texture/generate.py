"""Six control maps and a reference picture in, six RGB views out: upstream's multiview sampling.

As ``IG2MVSDXLPipeline.__call__`` samples with ``Step1X3DTextureConfig``'s values: prompt "high
quality" against upstream's negative prompt, classifier-free guidance 3.0, 50 DDPM steps of the
shifted schedule (``scheduler``), 768-pixel views. Before the steps, one UNet pass over the
reference picture's latents (timestep 0, the prompt, no multiview attention) keeps each
self-attention layer's input; the unconditional half of the guidance batch sees zeros in its place.
The condition encoder turns the control maps into four feature maps added inside the UNet's down
path at every step (a T2I-Adapter's ``down_intrablock_additional_residuals``).

What img23d does differently, and why:
* One CPU generator, seeded, draws every random number (initial noise, the reference latent's
  sample, the DDPM steps' noise), so a seed gives the same views on any device up to arithmetic.
* The latents stay in float32 between steps (upstream keeps them in the model's dtype); the UNet
  still runs in the model's dtype. Half-precision scheduler arithmetic gains nothing.
* The reference states are not repeated per view and guidance half (upstream's 12 copies of
  every layer's states, 1.4 GB at 768 px in fp16): the views share one (``attention``).
* Upstream's texture sync (the first half of the steps synchronised through a latent UV texture
  of the mesh) runs in img23d's own code (``sync``, ``uv_latents``), seeded, when the caller gives
  the mesh's latent atlas and ``settings.sync`` is on; without an atlas the views are sampled
  independently, as upstream's adapter was trained.
* The VAE decodes one view at a time, in the precision its config asks for (``vae``: float32 where
  ``force_upcast`` is set and the model runs in float16, as diffusers does; the fp16-fix VAE's
  config sets it false, so it decodes in float16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ....env.job_control import CancelToken
from . import vae
from .attention import Pass
from .conditions import check_controls, prepare_reference
from .loader import Step1XTextureModel
from .prompt import encode_pair, time_ids
from .scheduler import make_scheduler
from .sync import SyncSettings, TextureSync
from .uv_latents import LatentAtlas

STEPS = 50
GUIDANCE = 3.0
VIEW_SIZE = 768
PROMPT = "high quality"
NEGATIVE_PROMPT = "watermark, ugly, deformed, noisy, blurry, low contrast"
NUM_VIEWS = 6

StepFn = Callable[[int, int], None]   # (steps done, steps in all)


@dataclass(frozen=True)
class MultiviewSettings:
    """How the views are sampled; every default is upstream's."""

    steps: int = STEPS
    guidance_scale: float = GUIDANCE
    size: int = VIEW_SIZE
    prompt: str = PROMPT
    negative_prompt: str | None = NEGATIVE_PROMPT
    reference_scale: float = 1.0     # upstream's reference_conditioning_scale
    control_scale: float = 1.0       # control_conditioning_scale
    multiview_scale: float = 1.0     # mv_scale
    sync: SyncSettings = SyncSettings()

    def check(self, model: Step1XTextureModel) -> None:
        self.sync.check()
        if self.steps < 1:
            raise ValueError(f"the multiview model needs at least one step, not {self.steps}")
        # The VAE's scale (8) times the UNet's two downsamplings: SDXL's latents halve twice.
        step = vae_scale(model) * 2 ** (len(model.unet.config.block_out_channels) - 1)
        if self.size <= 0 or self.size % step:
            raise ValueError(f"views of {self.size} px do not fit the model: use a multiple of {step}")


def vae_scale(model: Step1XTextureModel) -> int:
    return 2 ** (len(model.vae.config.block_out_channels) - 1)


def _reference_latents(model: Step1XTextureModel, reference: Image.Image, size: int,
                       generator: torch.Generator) -> torch.Tensor:
    picture = prepare_reference(reference, size)
    pixels = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0)
    return vae.encode(model.vae, pixels.permute(2, 0, 1)[None] * 2 - 1, generator, model.dtype)


@torch.inference_mode()
def generate_views(model: Step1XTextureModel, controls: torch.Tensor, reference: Image.Image, seed: int,
                   settings: MultiviewSettings = MultiviewSettings(), on_step: StepFn | None = None,
                   cancel: CancelToken | None = None, atlas: LatentAtlas | None = None) -> list[Image.Image]:
    """Six views (front, right, back, left, top, bottom) of ``settings.size`` px from the control maps
    ``controls`` [6, 6, size, size] (``conditions.control_maps``) and the ``reference`` cut-out;
    synchronised through ``atlas`` (``uv_latents.build_atlas`` of the mesh, at the latents' size)
    when it is given and ``settings.sync.enabled``."""
    latents = sample_latents(model, controls, reference, seed, settings, on_step, cancel, atlas)
    return [_decode(model, latents[view:view + 1]) for view in range(NUM_VIEWS)]


@torch.inference_mode()
def sample_latents(model: Step1XTextureModel, controls: torch.Tensor, reference: Image.Image, seed: int,
                   settings: MultiviewSettings = MultiviewSettings(), on_step: StepFn | None = None,
                   cancel: CancelToken | None = None, atlas: LatentAtlas | None = None) -> torch.Tensor:
    """``generate_views``' latents [6, C, size / 8, size / 8], before decoding."""
    settings.check(model)
    check_controls(controls, NUM_VIEWS, settings.size)
    device, dtype, state = torch.device(model.device), model.dtype, model.attention
    generator = torch.Generator("cpu").manual_seed(int(seed))
    guided = settings.guidance_scale > 1.0
    positive, negative = encode_pair(model, settings.prompt, settings.negative_prompt if guided else None)
    size_ids = time_ids(model, settings.size, settings.size)
    scheduler = make_scheduler(model.scheduler_config)
    scheduler.set_timesteps(settings.steps, device=device)
    latent_side = settings.size // vae_scale(model)
    channels = model.unet.config.in_channels
    latents = torch.randn((NUM_VIEWS, channels, latent_side, latent_side), generator=generator, dtype=torch.float32)
    latents = latents.to(device) * scheduler.init_noise_sigma
    reference_latents = _reference_latents(model, reference, settings.size, generator)
    sync = None
    if atlas is not None and settings.sync.enabled:
        if atlas.latent_size != latent_side or len(atlas.views) != NUM_VIEWS:
            raise ValueError(f"the sync's atlas is for {len(atlas.views)} views of {atlas.latent_size}-pixel latents, "
                             f"not {NUM_VIEWS} of {latent_side}")
        sync = TextureSync(model, atlas, scheduler, generator, settings.sync, settings.size)
        latents = sync.start(latents)
    try:
        state.mode, state.reference = Pass.CAPTURE, {}
        model.unet(reference_latents, torch.zeros((), dtype=torch.long, device=device), encoder_hidden_states=positive.hidden,
                   added_cond_kwargs={"text_embeds": positive.pooled, "time_ids": size_ids})
        groups = [negative, positive] if guided else [positive]
        if guided:
            state.reference = {name: torch.cat([torch.zeros_like(h), h]) for name, h in state.reference.items()}
        state.mode, state.num_views = Pass.MULTIVIEW, NUM_VIEWS
        state.mv_scale, state.ref_scale = settings.multiview_scale, settings.reference_scale
        hidden = torch.cat([g.hidden.expand(NUM_VIEWS, -1, -1) for g in groups])
        pooled = torch.cat([g.pooled.expand(NUM_VIEWS, -1) for g in groups])
        added = {"text_embeds": pooled, "time_ids": size_ids.expand(hidden.shape[0], -1)}
        features = [f * settings.control_scale for f in model.condition_encoder(controls.to(device, dtype))]
        features = [torch.cat([f] * len(groups)) for f in features]
        for index, timestep in enumerate(scheduler.timesteps):
            if cancel is not None:
                cancel.check()
            batch = torch.cat([latents] * len(groups))
            batch = scheduler.scale_model_input(batch, timestep).to(dtype)
            # A fresh list each step: the UNet pops the features it adds.
            noise = model.unet(batch, timestep, encoder_hidden_states=hidden, added_cond_kwargs=added,
                               down_intrablock_additional_residuals=list(features)).sample.float()
            if guided:
                unconditional, conditional = noise.chunk(2)
                noise = unconditional + settings.guidance_scale * (conditional - unconditional)
            if sync is not None and sync.applies(timestep):
                latents = sync.step(noise, timestep, index, latents)
            else:
                latents = scheduler.step(noise, timestep, latents, generator=generator).prev_sample
            if on_step is not None:
                on_step(index + 1, len(scheduler.timesteps))
    finally:
        state.mode, state.reference = Pass.PLAIN, {}
    return latents


def _decode(model: Step1XTextureModel, latent: torch.Tensor) -> Image.Image:
    image = vae.decode(model.vae, latent)
    array = ((image[0] / 2 + 0.5).clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8)
    return Image.fromarray(array.cpu().numpy())
