"""Shape with Hunyuan3D-2 (hy3dgen): RGBA cut-outs in, one mesh per cut-out out, batched.

The DiT denoises a batch together; ``shape_decode`` turns each target's latents into its mesh.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ...env.job_control import CancelToken, ProgressFn
from ...models.dtypes import working_dtype
from .fast_load import load_shape_pipeline, load_shape_vae
from ...models.placement import LoadedModel
from ...models.registry import ModelSpec
from ...mesh.shapes import ShapeSettings, mesh_arrays
from ..family import refuse_empty_cutouts
from .hy3dgen_fixes import float32_schedule
from .shape_decode import DecodeSettings, decode_latents, decoding_vae, latents_to_mesh

__all__ = ["ShapeSettings", "decode_settings", "generate_shapes", "mesh_arrays", "shape_loader"]

log = logging.getLogger(__name__)


def decode_settings(settings: ShapeSettings) -> DecodeSettings:
    """The job's settings as the volume decoding reads them."""
    return DecodeSettings(decoder=settings.decoder, octree_resolution=settings.octree_resolution,
                          num_chunks=settings.num_chunks)


def shape_loader(spec: ModelSpec):  # -> Loader
    def load(folder: Path, device: Any) -> LoadedModel:
        _route_hy3dgen_logs()
        # The same pipeline as hy3dgen's from_pretrained, without its random initialisation.
        folder = Path(folder).resolve()
        pipe = load_shape_pipeline(folder, spec.subfolder, device, working_dtype(device))
        float32_schedule(pipe.scheduler)  # the turbo schedulers' float64 tables fail on MPS
        # FlashVDM's distilled VAE beside the folder's own: dense decoding (Standard, High) still
        # uses the folder's, and a job may pick either, so both stay with the model rather than
        # one being read from disk again whenever the decoder changes.
        pipe.flashvdm_vae = (load_shape_vae(folder, spec.flashvdm_vae, device, working_dtype(device))
                             if spec.flashvdm_vae else None)

        def follow(device_now: Any) -> None:
            pipe.device = device_now  # hy3dgen reads pipe.device for new tensors

        modules = [pipe.model, pipe.vae, pipe.conditioner, *([pipe.flashvdm_vae] if pipe.flashvdm_vae else [])]
        return LoadedModel(obj=pipe, modules=modules, on_moved=follow)

    return load


def _route_hy3dgen_logs() -> None:
    # hy3dgen attaches its own INFO handler to its logger; let ours (stderr, chosen level) decide.
    hy_log = logging.getLogger("hy3dgen.shapgen")
    hy_log.handlers.clear()
    hy_log.setLevel(logging.NOTSET)


class _Cancelled(Exception):
    pass


def generate_shapes(pipe: Any, images: list[Image.Image], seeds: list[int], settings: ShapeSettings, *,
                    cancel: CancelToken, progress: ProgressFn,
                    on_mesh: Callable[[int, Any], None] | None = None,
                    full_precision: Callable[[], AbstractContextManager[Any]] | None = None,
                    on_redo: Callable[[int, str], Any] | None = None) -> list[Any]:
    """One trimesh (or None where surface extraction found nothing) per image, in order.

    Each batch is denoised together, then decoded one target at a time; ``on_mesh(index, mesh)``
    hears of each as soon as it exists, so its clean-up can start while the next decodes.
    ``full_precision`` and ``on_redo`` are the family interface's (``families.family.ShapeSampler``):
    Hunyuan3D-2 runs in its loader's dtype, with no float16 check of its own, so it uses neither. An empty
    cut-out is refused before any work (hy3dgen's crop failed on it with numpy's words).
    """
    import torch

    refuse_empty_cutouts(images)

    batch = settings.batch_size or len(images)
    meshes: list[Any] = []
    batches = [(i, images[i:i + batch], seeds[i:i + batch]) for i in range(0, len(images), batch)]
    total_steps = (settings.steps + batch) * len(batches)
    for number, (first, chunk, chunk_seeds) in enumerate(batches):
        cancel.check()
        # One CPU generator per image: a target's shape depends on its seed, not on its batch-mates
        # or the device (diffusers draws CPU noise from CPU generators, then moves it).
        generators = [torch.Generator(device="cpu").manual_seed(s) for s in chunk_seeds]
        done_before = number * (settings.steps + batch)

        def on_step(step: int, timestep: Any, outputs: Any) -> None:
            if cancel.cancelled:
                raise _Cancelled()
            progress("shape", done_before + step + 1, total_steps,
                     f"denoising {first + 1}-{first + len(chunk)} of {len(images)}")

        try:
            latents = pipe(image=list(chunk), num_inference_steps=settings.steps,
                           octree_resolution=settings.octree_resolution,
                           guidance_scale=settings.guidance_scale, generator=generators,
                           output_type="latent", enable_pbar=False,
                           callback=on_step, callback_steps=1)
        except _Cancelled:
            raise ProtocolError(ErrorCode.CANCELLED, "the job was cancelled") from None
        decoded = decode_latents(decoding_vae(pipe, settings.decoder), latents)
        for offset in range(len(chunk)):
            cancel.check()
            mesh = latents_to_mesh(pipe, decoded[offset:offset + 1], decode_settings(settings))
            meshes.append(mesh)
            progress("shape", done_before + settings.steps + offset + 1, total_steps,
                     f"decoded surface {first + offset + 1} of {len(images)}")
            if on_mesh is not None:
                on_mesh(first + offset, mesh)
    return meshes

