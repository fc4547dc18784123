"""FLUX.2 [klein]'s three phases, each through diffusers' own ``Flux2KleinPipeline`` over the parts the
phase holds (``editors.driver`` runs them in order through the model manager):

1. the text encoder encodes each distinct instruction (``Flux2KleinPipeline.encode_prompt``; a base
   model's empty negative instruction as well);
2. the transformer and the VAE: diffusers' own ``Flux2KleinPipeline.__call__`` with those
   embeddings and ``output_type="latent"``, which encodes the crop, denoises, and unpacks,
   de-normalises and unpatchifies the latents as upstream does. A request with more pictures of the
   object (``EditRequest.references``, its views) passes ``image`` as a list, the crop's canvas first:
   the pipeline encodes each picture on its own and appends its latents to the sequence with
   positions of their own (``_prepare_image_ids``: time 10 for the first, 20, 30 ... for the next),
   and the answer is painted at the crop's canvas. A request without a crop (a picture from text,
   ``editors.text_picture``) passes ``image=None``: the pipeline paints from its noise alone, at the
   picture's size;
3. the VAE decodes them and the pipeline's image processor post-processes them, the two lines the
   pipeline's own call ends with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import PIL.Image

from ...env.job_control import CancelToken
from ..editor import EditorPhases
from ..canvas import Canvas
from ..pipeline import CanvasLatents, EditorModel, EditRequest, denoise_each


@dataclass
class Instructions:
    """The text encoder's output for each distinct instruction, and for a base model (which runs
    classifier-free guidance) the empty negative instruction's; None for a distilled one."""

    embeddings: dict[str, Any]
    negative: Any = None


def encode_instructions(model: EditorModel, requests: Sequence[EditRequest], device: Any,
                        cancel: CancelToken) -> Instructions:
    """Phase 1, the text encoder: each distinct instruction encoded once, as the pipeline's own call would
    (``encode_prompt``, on the manager's device: this phase's pipeline holds no other part to tell it)."""
    import torch

    def encode(text: str) -> Any:
        cancel.check()
        with torch.inference_mode():
            return model.pipeline.encode_prompt(prompt=text, device=device)[0]

    embeddings = {text: encode(text) for text in dict.fromkeys(request.instruction for request in requests)}
    # The pipeline's own negative for classifier-free guidance, which only a base model runs.
    return Instructions(embeddings, None if model.pipeline.config.is_distilled else encode(""))


def denoise(model: EditorModel, requests: Sequence[EditRequest], instructions: Instructions,
            cancel: CancelToken, steps: int = 0) -> list[CanvasLatents]:
    """Phase 2, the VAE and the transformer: each crop encoded and denoised from noise seeded with its seed
    by the pipeline's own call, given the instruction's embeddings, in ``steps`` (0: the model's default);
    its latents, ready to decode. A cancel is checked before each request and each denoising step."""
    def call(index: int, request: EditRequest, canvas: Canvas, generator: Any) -> Any:
        # A list: diffusers encodes each picture as reference latents of its own (the crop's first).
        return model.pipeline(image=model.pictures(request), prompt_embeds=instructions.embeddings[request.instruction],
                              negative_prompt_embeds=instructions.negative, height=canvas.height,
                              width=canvas.width, num_inference_steps=steps or model.defaults.steps,
                              guidance_scale=model.defaults.guidance, generator=generator, output_type="latent")

    return denoise_each(model, requests, cancel, call)


def decode(model: EditorModel, requests: Sequence[EditRequest], latents: Sequence[CanvasLatents],
           cancel: CancelToken) -> list[PIL.Image.Image]:
    """Phase 3, the VAE: each request's latents decoded and mapped back from its canvas onto its crop (RGB,
    the crop's size)."""
    import torch

    edited = []
    for request, painted in zip(requests, latents, strict=True):
        cancel.check()
        with torch.inference_mode():
            # What Flux2KleinPipeline.__call__ does after denoising for any output_type but "latent".
            image = model.pipeline.vae.decode(painted.latents, return_dict=False)[0]
            image = model.pipeline.image_processor.postprocess(image, output_type="pil")[0]
        edited.append(painted.canvas.back(image))
    return edited



PHASES = EditorPhases(encode_instructions, denoise, decode)
