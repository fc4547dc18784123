"""Cut-outs in, one mesh per cut-out out: the rectified-flow sampler over the geometry model.

As upstream's pipeline samples: diffusers' ``FlowMatchEulerDiscreteScheduler`` from the folder's
``scheduler_config.json``, classifier-free guidance (7.5) with zeros as the unconditional image
tokens, the first step's velocity zeroed (``use_zero_init``), 30 steps by default (upstream's
pipeline; its scripts use 50). Each target has its own CPU generator, so its shape depends on its
seed alone, not on its batch-mates or the device. The latents of each target are then decoded
into tokens once and the field queried on the hierarchical grid (``volume``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken, ProgressFn
from .label import LabelChoice
from .loader import Step1XGeometry
from .visual_encoder import prepare_cutout
from .volume import GridSettings, GridStats, extract_surface, hierarchical_grid

log = logging.getLogger(__name__)

STEPS = 30
GUIDANCE = 7.5
ZERO_INIT_STEPS = 0   # upstream's zero_steps: the velocity of steps 0..this is zeroed


@dataclass(frozen=True)
class GeometrySettings:
    steps: int = STEPS
    guidance_scale: float = GUIDANCE
    grid: GridSettings = field(default_factory=GridSettings)
    batch_size: int = 0   # targets denoised together; 0 = all
    label: LabelChoice = field(default_factory=LabelChoice)   # the Label model's symmetry and sharpness


def _scheduler(model: Step1XGeometry) -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler.from_config(model.scheduler_config)


def denoise(model: Step1XGeometry, cutouts: list[Image.Image], seeds: list[int], settings: GeometrySettings,
            on_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """The latents [B, tokens, channels] for a batch of cut-outs (``on_step(i)`` after each step)."""
    denoiser, device = model.denoiser, torch.device(model.device)
    dtype = denoiser.dit_model.proj_in.weight.dtype
    with torch.inference_mode():
        condition = model.visual.encode([prepare_cutout(image) for image in cutouts]).to(dtype)
        label = None
        if model.label is not None:
            # As upstream's pipeline: the chosen rows conditioned, zeros unconditioned.
            label = model.label.encode(settings.label, len(cutouts)).to(device, dtype)
        guided = settings.guidance_scale > 1
        if guided:
            condition = torch.cat([model.visual.unconditional(len(cutouts), condition), condition])
            if label is not None:
                label = torch.cat([model.label.unconditional(len(cutouts), label), label])
        shape = (model.vae.config.num_latents, denoiser.config.input_channels)
        latents = torch.stack([torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))
                               for seed in seeds]).to(device, dtype)
        scheduler = _scheduler(model)
        scheduler.set_timesteps(settings.steps, device=device)
        for step, timestep in enumerate(scheduler.timesteps):
            batch = torch.cat([latents, latents]) if guided else latents
            velocity = denoiser(batch, timestep.expand(batch.shape[0]).to(device), condition, label)
            if guided:
                unconditional, conditional = velocity.chunk(2)
                velocity = unconditional + settings.guidance_scale * (conditional - unconditional)
            if step <= ZERO_INIT_STEPS:
                velocity = velocity * 0.0
            latents = scheduler.step(velocity, timestep, latents, return_dict=False)[0].to(dtype)
            if on_step is not None:
                on_step(step)
    return latents


def latents_to_mesh(model: Step1XGeometry, latents: torch.Tensor, grid: GridSettings,
                    stats: GridStats | None = None) -> Any:
    """One target's mesh (trimesh, or None when its field has no surface) from its latents [1, N, C]."""
    import trimesh

    device = torch.device(model.device)
    with torch.inference_mode():
        tokens = model.vae.decode(latents)
        field_values = hierarchical_grid(lambda points: model.vae.query(points[None], tokens)[0], grid, device, stats)
    surface = extract_surface(field_values, grid.bounds)
    if surface is None:
        return None
    return trimesh.Trimesh(*surface)


class _Cancelled(Exception):
    pass


def generate_geometry(model: Step1XGeometry, cutouts: list[Image.Image], seeds: list[int],
                      settings: GeometrySettings, *, cancel: CancelToken, progress: ProgressFn,
                      on_mesh: Callable[[int, Any], None] | None = None) -> list[Any]:
    """One trimesh (or None) per cut-out, in order; ``on_mesh(index, mesh)`` as each exists."""
    if len(cutouts) != len(seeds):
        raise ValueError(f"{len(cutouts)} cut-outs but {len(seeds)} seeds")
    size = settings.batch_size or len(cutouts)
    batches = [(first, cutouts[first:first + size], seeds[first:first + size]) for first in range(0, len(cutouts), size)]
    total = (settings.steps + size) * len(batches)
    meshes: list[Any] = []
    for number, (first, chunk, chunk_seeds) in enumerate(batches):
        cancel.check()
        before = number * (settings.steps + size)

        def on_step(step: int) -> None:
            if cancel.cancelled:
                raise _Cancelled()
            progress("shape", before + step + 1, total, f"denoising {first + 1}-{first + len(chunk)} of {len(cutouts)}")

        try:
            latents = denoise(model, chunk, chunk_seeds, settings, on_step)
        except _Cancelled:
            raise ProtocolError(ErrorCode.CANCELLED, "the job was cancelled") from None
        for offset in range(len(chunk)):
            cancel.check()
            mesh = latents_to_mesh(model, latents[offset:offset + 1], settings.grid)
            meshes.append(mesh)
            progress("shape", before + settings.steps + offset + 1, total,
                     f"decoded surface {first + offset + 1} of {len(cutouts)}")
            if on_mesh is not None:
                on_mesh(first + offset, mesh)
    return meshes
