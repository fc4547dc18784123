"""Hunyuan3D-Paint-v2-0-Turbo on any device: its loader and the denoising loop that runs it.

Upstream's default paint model since ab727ba ("hypaint-turbo and mv", Tencent/Hunyuan3D-2) is the
distilled ``hunyuan3d-paint-v2-0-turbo``; hy3dgen 2.0.2 (PyPI) predates it. What upstream does
differently for it, as read in ``utils/multiview_utils.py`` and ``hunyuanpaint/pipeline.py``:

* the scheduler is ``LCMScheduler.from_config(<the folder's scheduler config>,
  timestep_spacing="trailing")``, run on fixed timesteps: every third point of the 30-step DDIM
  grid of the 1000 training steps (``DDIMSolver(ddim_timesteps=30)``, indices 29, 26, ..., 2),
  i.e. 989, 890, ..., 98, whatever number of steps is asked for (``turbo_timesteps``);
* no classifier-free batch: the UNet sees the six views once per step, without the zeroed
  reference copy (half the UNet work of the 2.0 model's guidance scale 2);
* the multiview attention is masked by the views' position maps (``position_attention``).

Upstream also builds a guidance-scale embedding when the UNet config has ``time_cond_proj_dim``
(``get_guidance_scale_embedding(guidance_scale - 1)``, its pipeline's guidance scale 2.0) and hands
it to the UNet as ``timestep_cond``. No public copy of the turbo folder's ``unet/config.json`` could
be read here, so both cases are handled from the config the loader reads
(``guidance_condition``): without the key, nothing is built (and the strict load refuses weights
with a guidance projection); with it, the embedding is built as upstream builds it and given
to the generation stream's inner UNet (hy3dgen's wrapper would drop it: it keeps unknown keyword
arguments as cached conditions). The UNet itself is the 2.0 architecture: the turbo weights load strictly into hy3dgen 2.0.2's
``UNet2p5DConditionModel`` (tests prove every tensor of the file is loaded). The loop is
img23d's own, on the device of the pipeline, with no hard-coded CUDA (upstream's solver and
condition tensors use ``.to("cuda")``).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from ...models.dtypes import working_dtype
from .fast_load import load_paint_unet, load_paint_vae
from ...models.manager import Loader
from ...models.placement import LoadedModel
from ...models.registry import ModelSpec
from .specs import PAINT_TURBO_SUBFOLDER
from . import position_attention
from .paint_models import (MultiviewDiffusion, StepFn, check_multiview_index, condition_batch, global_seed,
                             multiview_loader)

TURBO_GRID = 30    # the DDIM grid the turbo model was distilled on (upstream's DDIMSolver)
TURBO_STEPS = 10   # upstream's: every third grid point
TURBO_GUIDANCE_SCALE = 2.0  # HunyuanPaintPipeline.__call__'s default, which upstream's turbo run keeps


def guidance_condition(pipe: Any, device: Any, dtype: Any) -> Any | None:
    """The ``timestep_cond`` the distilled UNet expects, as upstream's pipeline builds it: None
    when the UNet's config has no ``time_cond_proj_dim``, else
    ``get_guidance_scale_embedding(guidance_scale - 1)`` of that width, one row.

    The UNet is built from the same config and loaded strictly, so a file whose weights hold a
    guidance projection (``time_embedding.cond_proj``) under a config without the key is refused
    at load: a revision cannot add the input and have it go unfed."""
    import torch

    width = pipe.unet.unet.config.get("time_cond_proj_dim")
    if width is None:
        return None
    scale = torch.tensor([TURBO_GUIDANCE_SCALE - 1.0])
    return pipe.get_guidance_scale_embedding(scale, embedding_dim=int(width)).to(device=device, dtype=dtype)


@contextmanager
def _feeding(unet: Any, condition: Any | None) -> Iterator[None]:
    """``condition`` as ``timestep_cond`` of every call of ``unet`` (the inner generation UNet) in the block."""
    if condition is None:
        yield
        return

    def add_condition(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return args, {**kwargs, "timestep_cond": condition}  # one row: broadcast over the views

    handle = unet.register_forward_pre_hook(add_condition, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def turbo_timesteps(steps: int, train_timesteps: int = 1000) -> list[int]:
    """The timesteps of a turbo run of ``steps`` steps: upstream's ten for 10 (989, 890, ..., 98).

    Other counts take points of the same 30-step grid, as evenly spaced and starting from the
    same top (30 steps: the whole grid; 5: every sixth point; 1: 989 alone).
    """
    if not 1 <= steps <= TURBO_GRID:
        raise ValueError(f"the turbo paint model runs 1 to {TURBO_GRID} steps, not {steps}")
    ratio = train_timesteps // TURBO_GRID
    grid = [(index + 1) * ratio - 1 for index in range(TURBO_GRID)]
    return [grid[TURBO_GRID - 1 - (step * TURBO_GRID) // steps] for step in range(steps)]


def paint_loader(spec: ModelSpec) -> Loader:
    """The loader a paint spec needs: the turbo model's (``turbo_multiview_loader``) or the 2.0
    model's (``paint_models.multiview_loader``, hy3dgen's pipeline), as its kind says."""
    turbo = spec.paint_kind.turbo if spec.paint_kind is not None else spec.subfolder == PAINT_TURBO_SUBFOLDER
    return turbo_multiview_loader(spec) if turbo else multiview_loader(spec)


def turbo_multiview_loader(spec: ModelSpec) -> Loader:
    """A loader for the turbo folder ``<folder>/<spec.subfolder or hunyuan3d-paint-v2-0-turbo>``.

    Its UNet is read from its safetensors by the fast loader; its VAE exists only as a pickle at
    the pinned revision, read by ``load_paint_vae`` after its digest is checked (``spec.options
    ["sha256"]``, per file; a local replica names none). The text encoder, tokenizer and image
    encoder the folder also holds are neither downloaded nor loaded: nothing here encodes a prompt.
    """

    def load(folder: Path, device: Any) -> LoadedModel:
        from diffusers import LCMScheduler
        from hy3dgen.texgen.hunyuanpaint.pipeline import HunyuanPaintPipeline

        path = Path(folder) / (spec.subfolder or PAINT_TURBO_SUBFOLDER)
        check_multiview_index(path)
        dtype = working_dtype(device)
        unet = load_paint_unet(path / "unet", device, dtype)
        vae = load_paint_vae(path / "vae", device, dtype, dict(spec.options.get("sha256", {})).get(
            "vae/diffusion_pytorch_model.bin"))
        scheduler = LCMScheduler.from_pretrained(str(path), subfolder="scheduler", timestep_spacing="trailing")
        pipe = HunyuanPaintPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet,
                                    scheduler=scheduler, feature_extractor=None)
        pipe.set_progress_bar_config(disable=True)
        pipe.to(device)
        multiview = TurboMultiview(pipe, position_attention.install(unet), guidance_condition(pipe, device, dtype))
        return LoadedModel(obj=multiview, modules=multiview.modules)

    return load


class TurboMultiview(MultiviewDiffusion):
    """Paints N views with the turbo model: LCM on fixed timesteps, one batch, guided attention."""

    def __init__(self, pipeline: Any, guidance: position_attention.PositionGuidance,
                 timestep_cond: Any | None = None) -> None:
        super().__init__(pipeline)
        self.guidance = guidance
        self.timestep_cond = timestep_cond  # guidance_condition's: None unless the config asks for one

    def __call__(self, reference: Image.Image, normals: Any, positions: Any, cameras: Sequence[int], *,
                 size: int, steps: int, seed: int, on_step: StepFn | None = None) -> Any:
        """Views as a float tensor [N, 3, size, size] in [0, 1] on the pipeline's device (as the
        2.0 model's ``MultiviewDiffusion``)."""
        import torch

        pipe = self.pipeline
        device, dtype = pipe.device, pipe.vae.dtype
        views = len(cameras)
        if not (views == normals.shape[0] == positions.shape[0]):
            raise ValueError("one normal map, one position map and one camera per view")
        timesteps = turbo_timesteps(steps, pipe.scheduler.config.num_train_timesteps)
        # The masks come from the float32 maps: the background test wants exact white.
        position_maps = condition_batch(positions, size, device, torch.float32)
        reference = reference.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        reference_pixels = torch.from_numpy(np.asarray(reference, dtype=np.float32) / 255.0)
        with torch.no_grad(), global_seed(seed, device):
            conditions = {
                "ref_latents": pipe.encode_images(reference_pixels.permute(2, 0, 1)[None, None].to(device, dtype)),
                "normal_imgs": pipe.encode_images(condition_batch(normals, size, device, dtype)),
                "position_imgs": pipe.encode_images(position_maps.to(dtype)),
                "camera_info_gen": torch.tensor([list(cameras)], dtype=torch.int64, device=device),
                "camera_info_ref": torch.tensor([[self.REFERENCE_CAMERA]], dtype=torch.int64, device=device),
            }
            masks = position_attention.position_masks(position_maps[0], size // pipe.vae_scale_factor)
            generator = torch.Generator(device="cpu").manual_seed(seed)
            latents = self._denoise(conditions, masks, timesteps, views, size, generator, on_step)
            images = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
        views_out = (images.float() / 2 + 0.5).clamp(0, 1)
        self._check(views_out)
        return views_out.to(device=device, dtype=torch.float32)

    def _denoise(self, conditions: dict[str, Any], masks: dict[int, Any], timesteps: list[int], views: int,
                 size: int, generator: Any, on_step: StepFn | None) -> Any:
        """The latents of the views after the turbo steps: one UNet pass per step, no guidance batch."""
        pipe = self.pipeline
        device, dtype = pipe.device, pipe.vae.dtype
        scheduler = pipe.scheduler
        # The grid the timesteps come from is the LCM "origin" schedule. diffusers warns that they
        # do not start at 999: upstream's schedule starts at 989 on purpose (a trailing grid).
        with _quiet("diffusers.schedulers.scheduling_lcm"):
            scheduler.set_timesteps(timesteps=timesteps, device=device, original_inference_steps=TURBO_GRID)
        latents = pipe.prepare_latents(views, pipe.unet.config.in_channels, size, size, dtype, device, generator)
        prompt = pipe.unet.learned_text_clip_gen.to(dtype)  # [1, 77, 1024]: the learned prompt
        with self.guidance.active(masks), _feeding(pipe.unet.unet, self.timestep_cond):
            for number, timestep in enumerate(scheduler.timesteps, start=1):
                noise = pipe.unet(scheduler.scale_model_input(latents, timestep).unsqueeze(0), timestep,
                                  encoder_hidden_states=prompt, **conditions)[0]
                latents = scheduler.step(noise, timestep, latents, generator=generator, return_dict=False)[0]
                if on_step is not None:
                    on_step(number, len(timesteps))
        return latents


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Only errors from ``logger`` during the block."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)
