"""Shape with Hunyuan3D-2 (hy3dgen): RGBA cut-outs in, one mesh per cut-out out, batched."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ..models.placement import LoadedModel
from ..models.registry import ModelSpec
from ._common import CancelToken, ProgressFn, working_dtype
from .hy3dgen_fixes import float32_schedule, surface_extractor

log = logging.getLogger(__name__)


@dataclass
class ShapeSettings:
    steps: int
    octree_resolution: int
    guidance_scale: float
    batch_size: int  # 0 = everything in one batch

    def lowered(self) -> "ShapeSettings":
        """Settings for a retry after running out of memory: one image, half the octree."""
        return ShapeSettings(steps=self.steps, octree_resolution=max(32, self.octree_resolution // 2),
                             guidance_scale=self.guidance_scale, batch_size=1)


def shape_loader(spec: ModelSpec):  # -> Loader
    def load(folder: Path, device: Any) -> LoadedModel:
        from hy3dgen.shapegen import Hunyuan3DDiTFlowMatchingPipeline

        _route_hy3dgen_logs()
        # An absolute folder makes hy3dgen read <folder>/<subfolder> and never touch the hub.
        pipe = Hunyuan3DDiTFlowMatchingPipeline.from_pretrained(
            str(Path(folder).resolve()), subfolder=spec.subfolder, device=str(device),
            dtype=working_dtype(device), use_safetensors=True, variant="fp16")
        float32_schedule(pipe.scheduler)  # the turbo schedulers' float64 tables fail on MPS

        def follow(device_now: Any) -> None:
            pipe.device = device_now  # hy3dgen reads pipe.device for new tensors

        return LoadedModel(obj=pipe, modules=[pipe.model, pipe.vae, pipe.conditioner], on_moved=follow)

    return load


def _route_hy3dgen_logs() -> None:
    # hy3dgen attaches its own INFO handler to its logger; let ours (stderr, chosen level) decide.
    hy_log = logging.getLogger("hy3dgen.shapgen")
    hy_log.handlers.clear()
    hy_log.setLevel(logging.NOTSET)


class _Cancelled(Exception):
    pass


def generate_shapes(pipe: Any, images: list[Image.Image], seeds: list[int], settings: ShapeSettings, *,
                    cancel: CancelToken, progress: ProgressFn) -> list[Any]:
    """One trimesh (or None where surface extraction found nothing) per image, in order."""
    import torch

    batch = settings.batch_size or len(images)
    meshes: list[Any] = []
    # Set the extractor directly: passing mc_algo to the call is deprecated in hy3dgen.
    pipe.vae.surface_extractor = surface_extractor(pipe.device)
    batches = [(i, images[i:i + batch], seeds[i:i + batch]) for i in range(0, len(images), batch)]
    total_steps = settings.steps * len(batches)
    for number, (first, chunk, chunk_seeds) in enumerate(batches):
        cancel.check()
        # One CPU generator per image: a target's shape depends on its seed, not on its batch-mates
        # or the device (diffusers draws CPU noise from CPU generators, then moves it).
        generators = [torch.Generator(device="cpu").manual_seed(s) for s in chunk_seeds]
        done_before = number * settings.steps

        def on_step(step: int, timestep: Any, outputs: Any) -> None:
            if cancel.cancelled:
                raise _Cancelled()
            progress("shape", done_before + step + 1, total_steps,
                     f"denoising {first + 1}-{first + len(chunk)} of {len(images)}")

        try:
            result = pipe(image=list(chunk), num_inference_steps=settings.steps,
                          octree_resolution=settings.octree_resolution,
                          guidance_scale=settings.guidance_scale, generator=generators,
                          output_type="trimesh", enable_pbar=False,
                          callback=on_step, callback_steps=1)
        except _Cancelled:
            raise ProtocolError(ErrorCode.CANCELLED, "the job was cancelled") from None
        if not isinstance(result, list):
            result = [result]
        meshes.extend(result)
        progress("shape", done_before + settings.steps, total_steps, f"extracted {len(meshes)} surfaces")
    return meshes


def mesh_arrays(mesh: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
