"""Cut-outs in, one mesh per cut-out out: the rectified-flow sampler over the geometry model.

As upstream's pipeline samples: diffusers' ``FlowMatchEulerDiscreteScheduler`` from the folder's
``scheduler_config.json``, classifier-free guidance (7.5) with zeros as the unconditional image
tokens, the first step's velocity zeroed (``use_zero_init``), 30 steps by default (upstream's
pipeline; its scripts use 50). Each target has its own CPU generator, so its shape depends on its
seed alone, not on its batch-mates or the device. The latents of each target are then decoded
into tokens once and the field queried on the hierarchical grid (``volume``); where the field
is not a truncated distance and the grid narrows its thin-part band, the job hears it once (the
progress and the log).

Precision (``families.step1x.specs.step1x_precision``): the networks run in the model's dtype, the latents
stay float32 between steps (the denoiser is fed its dtype, the scheduler steps in float32, as
upstream's fp32 reference does). In float16 (CUDA GPUs before Ampere) a target whose latents
leave the finite numbers after a step, or whose decoded field does, is made again with the
weights in float32 (``full_precision``: the model manager's conversion in a job) and the job is
told (``on_redo``).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ....env.job_control import CancelToken, ProgressFn
from ....models import placement
from .label import LabelChoice
from .loader import Step1XGeometry
from .visual_encoder import prepare_cutout
from ....surfaces.volume import GridSettings, GridStats, extract_surface, hierarchical_grid

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


class NotFinite(Exception):
    """A target's latents or decoded field hold NaN or inf: half precision overflowed."""


def denoise(model: Step1XGeometry, cutouts: list[Image.Image], seeds: list[int], settings: GeometrySettings,
            on_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """The latents [B, tokens, channels] for a batch of cut-outs (``on_step(i)`` after each step),
    float32 between steps. A target's latents that were not finite after any step are NaN at the
    end (fp16's clipping in the single-stream blocks could bring an overflowed row back)."""
    denoiser, device, dtype = model.denoiser, torch.device(model.device), model.dtype
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
                               for seed in seeds]).to(device)
        finite = torch.ones(len(seeds), dtype=torch.bool, device=device)
        scheduler = _scheduler(model)
        scheduler.set_timesteps(settings.steps, device=device)
        for step, timestep in enumerate(scheduler.timesteps):
            batch = torch.cat([latents, latents]) if guided else latents
            # The denoiser computes in its dtype; guidance and the Euler step in float32, so the
            # latents are not rounded to 16 bits 30 times over.
            velocity = denoiser(batch.to(dtype), timestep.expand(batch.shape[0]).to(device), condition, label).float()
            if guided:
                unconditional, conditional = velocity.chunk(2)
                velocity = unconditional + settings.guidance_scale * (conditional - unconditional)
            if step <= ZERO_INIT_STEPS:
                velocity = velocity * 0.0
            latents = scheduler.step(velocity, timestep, latents, return_dict=False)[0]
            finite &= torch.isfinite(latents).flatten(1).all(dim=1)   # read once, after the last step
            if on_step is not None:
                on_step(step)
        latents[~finite] = float("nan")
    return latents


def latents_to_mesh(model: Step1XGeometry, latents: torch.Tensor, grid: GridSettings,
                    stats: GridStats | None = None) -> Any:
    """One target's mesh (trimesh, or None when its field has no surface) from its latents [1, N, C].

    ``NotFinite`` when the model is in float16 and the field it decoded is not finite.
    """
    import trimesh

    device = torch.device(model.device)
    with torch.inference_mode():
        tokens = model.vae.decode(latents.to(model.dtype))
        field_values = hierarchical_grid(lambda points: model.vae.query(points[None], tokens)[0], grid, device, stats)
        if model.checked and not bool(torch.isfinite(field_values).all()):
            raise NotFinite("a decoded field that is not finite")
    surface = extract_surface(field_values, grid.bounds)
    if surface is None:
        return None
    return trimesh.Trimesh(*surface)


def _checked_mesh(model: Step1XGeometry, latents: torch.Tensor, grid: GridSettings,
                  stats: GridStats | None = None) -> Any:
    """One target's mesh from its latents [1, N, C]; ``NotFinite`` when float16 overflowed on the way."""
    if model.checked and not bool(torch.isfinite(latents).all()):
        raise NotFinite("latents that are not finite after a denoising step")
    return latents_to_mesh(model, latents, grid, stats)


class _Cancelled(Exception):
    pass


def generate_geometry(model: Step1XGeometry, cutouts: list[Image.Image], seeds: list[int],
                      settings: GeometrySettings, *, cancel: CancelToken, progress: ProgressFn,
                      on_mesh: Callable[[int, Any], None] | None = None,
                      full_precision: Callable[[], AbstractContextManager[Any]] | None = None,
                      on_redo: Callable[[int, str], Any] | None = None) -> list[Any]:
    """One trimesh (or None) per cut-out, in order; ``on_mesh(index, mesh)`` as each exists.

    A target that float16 could not compute is made again with the weights in float32 for the
    while (``full_precision()``: the model manager's in a job; else the model's modules cast in
    place), after ``on_redo(index, why)``; where that returns something rather than None (the
    job's refusal: float32 would not fit), it stands for the target's mesh instead.
    """
    if len(cutouts) != len(seeds):
        raise ValueError(f"{len(cutouts)} cut-outs but {len(seeds)} seeds")
    size = settings.batch_size or len(cutouts)
    batches = [(first, cutouts[first:first + size], seeds[first:first + size]) for first in range(0, len(cutouts), size)]
    total = (settings.steps + size) * len(batches)
    widen = full_precision or (lambda: placement.cast_for_call(model.modules, torch.float32))
    meshes: list[Any] = []
    said = False   # the decoding's narrowed band, told once a call
    for number, (first, chunk, chunk_seeds) in enumerate(batches):
        cancel.check()
        before = number * (settings.steps + size)

        def on_step(step: int) -> None:
            if cancel.cancelled:
                raise _Cancelled()
            progress("shape", before + step + 1, total, f"denoising {first + 1}-{first + len(chunk)} of {len(cutouts)}")

        latents = _unless_cancelled(lambda: denoise(model, chunk, chunk_seeds, settings, on_step))
        for offset in range(len(chunk)):
            cancel.check()
            index, done = first + offset, before + settings.steps + offset

            def on_redo_step(step: int) -> None:  # the bar stays; the message counts the steps
                if cancel.cancelled:
                    raise _Cancelled()
                progress("shape", done, total, f"making {index + 1} of {len(cutouts)} again in float32: "
                                               f"step {step + 1} of {settings.steps}")

            stats = GridStats()
            try:
                mesh = _checked_mesh(model, latents[offset:offset + 1], settings.grid, stats)
            except NotFinite as exc:
                log.info("target %d: float16 gave %s; making it again in float32", index + 1, exc)
                mesh = on_redo(index, str(exc)) if on_redo is not None else None
                if mesh is None:
                    with widen():
                        again = _unless_cancelled(lambda: denoise(model, [cutouts[index]], [seeds[index]], settings,
                                                                  on_redo_step))
                        mesh = latents_to_mesh(model, again, settings.grid, stats)
            if stats.note:
                said = _say_band_once(stats.note, said, index, lambda message: progress("shape", done, total, message))
            meshes.append(mesh)
            progress("shape", done + 1, total, f"decoded surface {index + 1} of {len(cutouts)}")
            if on_mesh is not None:
                on_mesh(index, mesh)
    return meshes


def _say_band_once(note: str, said: bool, index: int, tell: Callable[[str], None]) -> bool:
    """The decoding narrowed its band for target ``index``: the log and the progress hear it the
    first time (``tell``), the log alone after; returns that it was said."""
    if said:
        log.info("shape decoding of target %d: %s", index + 1, note)
        return True
    sentence = f"shape decoding: {note}"
    log.warning(sentence)
    tell(sentence)
    return True


def _unless_cancelled(call: Callable[[], torch.Tensor]) -> torch.Tensor:
    try:
        return call()
    except _Cancelled:
        raise ProtocolError(ErrorCode.CANCELLED, "the job was cancelled") from None
