"""Qwen-Image-Edit-2511's three phases, each through diffusers' own ``QwenImageEditPlusPipeline``
methods over the parts the phase holds (``editors.driver`` runs them in order through the model manager):

1. the text encoder, Qwen2.5-VL-7B, reads each crop and its instruction (``encode_prompt`` with the
   crop as the pipeline's ``__call__`` makes it: placed on its canvas, then resized to 384 x 384's area
   for the text encoder), and the negative instruction with the same crop, as true classifier-free
   guidance needs;
2. the transformer and the VAE: the pipeline's own ``__call__`` with those embeddings and masks and
   ``output_type="latent"``, which encodes the canvas as its reference, denoises and returns the
   packed latents;
3. the VAE decodes them: the lines ``__call__`` ends with for any other output type (unpack, undo the
   latents' normalisation, decode the one frame, post-process).

A request with more pictures of the object (``EditRequest.references``) gives each phase the list
``__call__`` takes, the crop's canvas first: the text encoder reads them as "Picture 1: ... Picture 2:
..." (the pipeline's prompt template), and each is encoded as reference latents of its own.

Unlike FLUX.2 [klein], the text encoder reads the picture, so each request's instruction is encoded
with its own crop (not once per distinct instruction). The pipeline resizes its reference to
``calculate_dimensions(VAE_IMAGE_SIZE, aspect)``, a module constant of 1024 x 1024's area, whatever
the answer's size: ``reference_area`` sets that constant to the area the edit runs at for the call
(and back), so that the canvas, chosen among the sizes ``calculate_dimensions`` keeps at that area,
is the reference's size and the answer's (a smaller ``--edit-size``, and the tiny replica, too). ``PHASES`` holds them as
the driver calls every editor's (``editors.editor.EditorPhases``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import PIL.Image

from ...env.job_control import CancelToken
from ..editor import EditorPhases
from ..canvas import Canvas
from ..pipeline import CanvasLatents, EditorModel, EditRequest, denoise_each


@dataclass
class Encoded:
    """One request's instruction as the text encoder read it with its crop (a mask of None: every
    token counts, as ``encode_prompt`` returns it), and the negative instruction's (None without
    true guidance)."""

    embeds: Any
    mask: Any
    negative_embeds: Any = None
    negative_mask: Any = None


@contextmanager
def reference_area(pixels: int) -> Iterator[None]:
    """The pipeline reads its reference at ``pixels``' area within the block (its module's
    ``VAE_IMAGE_SIZE``, restored after). One edit runs at a time in a backend process."""
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as module

    saved = module.VAE_IMAGE_SIZE
    module.VAE_IMAGE_SIZE = pixels
    try:
        yield
    finally:
        module.VAE_IMAGE_SIZE = saved


def _true_guidance(model: EditorModel) -> bool:
    """Whether the run uses the negative instruction: ``__call__``'s own rule (scale above 1, a negative)."""
    return model.defaults.guidance > 1 and model.defaults.negative is not None


def encode_instructions(model: EditorModel, requests: Sequence[EditRequest], device: Any,
                        cancel: CancelToken) -> list[Encoded]:
    """Phase 1, the text encoder: each request's instruction (and the negative one) read with its crop,
    the condition picture made as ``QwenImageEditPlusPipeline.__call__`` makes it."""
    import torch
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import CONDITION_IMAGE_SIZE, calculate_dimensions

    pipeline = model.pipeline
    encoded = []
    for request in requests:
        cancel.check()
        condition = []
        for picture in model.pictures(request):  # each as __call__ resizes it for the text encoder
            width, height = calculate_dimensions(CONDITION_IMAGE_SIZE, picture.width / picture.height)
            condition.append(pipeline.image_processor.resize(picture, height, width))
        with torch.inference_mode():
            embeds, mask = pipeline.encode_prompt(prompt=request.instruction, image=condition, device=device)
            negative = (pipeline.encode_prompt(prompt=model.defaults.negative, image=condition, device=device)
                        if _true_guidance(model) else (None, None))
        encoded.append(Encoded(embeds, mask, *negative))
    return encoded


def denoise(model: EditorModel, requests: Sequence[EditRequest], instructions: list[Encoded],
            cancel: CancelToken, steps: int = 0) -> list[CanvasLatents]:
    """Phase 2, the VAE and the transformer: each crop encoded and denoised from noise seeded with its seed by
    the pipeline's own call, given its embeddings, in ``steps`` (0: the model's default); its packed latents.
    A cancel is checked before each request and each transformer call."""
    if len(instructions) != len(requests):
        raise ValueError(f"{len(requests)} requests and {len(instructions)} encoded instructions")

    def call(index: int, request: EditRequest, canvas: Canvas, generator: Any) -> Any:
        encoded = instructions[index]
        with reference_area(model.working_pixels):
            # A mask of None (encode_prompt's for unpadded embeddings) makes diffusers warn that it was
            # not given; the whole call passes the same None on, so the attention path is the same.
            return model.pipeline(image=model.pictures(request), prompt_embeds=encoded.embeds,
                                  prompt_embeds_mask=encoded.mask, negative_prompt_embeds=encoded.negative_embeds,
                                  negative_prompt_embeds_mask=encoded.negative_mask,
                                  true_cfg_scale=model.defaults.guidance, height=canvas.height,
                                  width=canvas.width, num_inference_steps=steps or model.defaults.steps,
                                  generator=generator, output_type="latent")

    return denoise_each(model, requests, cancel, call)


def decode(model: EditorModel, requests: Sequence[EditRequest], latents: Sequence[CanvasLatents],
           cancel: CancelToken) -> list[PIL.Image.Image]:
    """Phase 3, the VAE: each request's latents decoded and mapped back from its canvas onto its crop (RGB,
    the crop's size)."""
    import torch

    pipeline = model.pipeline
    vae = pipeline.vae
    edited = []
    for request, packed in zip(requests, latents, strict=True):
        cancel.check()
        with torch.inference_mode():
            # What QwenImageEditPlusPipeline.__call__ does after denoising for any output_type but "latent".
            unpacked = pipeline._unpack_latents(packed.latents, packed.canvas.height, packed.canvas.width,
                                                pipeline.vae_scale_factor)
            unpacked = unpacked.to(vae.dtype)
            shape = (1, vae.config.z_dim, 1, 1, 1)
            mean = torch.tensor(vae.config.latents_mean).view(shape).to(unpacked.device, unpacked.dtype)
            std = 1.0 / torch.tensor(vae.config.latents_std).view(shape).to(unpacked.device, unpacked.dtype)
            image = vae.decode(unpacked / std + mean, return_dict=False)[0][:, :, 0]
            image = pipeline.image_processor.postprocess(image, output_type="pil")[0]
        edited.append(packed.canvas.back(image))
    return edited


PHASES = EditorPhases(encode_instructions, denoise, decode)
