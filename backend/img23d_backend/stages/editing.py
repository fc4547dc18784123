"""Editing: an image editor fills in what is hidden in an object's crops, from an instruction.

The model (``black-forest-labs/FLUX.2-klein-4B``, or its tiny replica; ``models/editor_model.py``
says where its files and facts come from) is registered with the model manager as three parts
(``stages/editor_parts.py`` reads each on its own), and ``edit_images`` runs in three phases, each
holding on the device only the parts it needs (``models/editor_memory.EDITOR_PHASES``):

1. the text encoder encodes each distinct instruction (``Flux2KleinPipeline.encode_prompt``; a base
   model's empty negative instruction as well);
2. the transformer and the VAE: diffusers' own ``Flux2KleinPipeline.__call__`` with those
   embeddings and ``output_type="latent"``, which encodes the crop, denoises, and unpacks,
   de-normalises and unpatchifies the latents as upstream does;
3. the VAE decodes them and the pipeline's image processor post-processes them, the two lines the
   pipeline's own call ends with.

Why parts under the manager rather than diffusers' ``enable_model_cpu_offload``: the manager is the
one place that moves weights, and it already evicts least recently used first within its budget; as
parts, the editor's networks are evicted like any model. When the budget holds every part, nothing
moves between phases and a second edit reads nothing from disk (the result is the whole pipeline's
call, value for value); when it holds only the largest phase's, each phase's parts come in as the
previous phase's go to RAM. Phases run over all the requests at once, so parts move once per call,
not once per crop. Each phase's pipeline is built from the parts it holds (the others left None: the
phase's code never reaches them), which costs nothing and keeps no reference to an evicted part.

Before any part is loaded, ``editor_placement`` picks the placement from the manager's budget and
refuses in one sentence what cannot fit (the setting to change named); each phase checks that its
activations fit in the memory free beside its parts. Each crop is resized to the area the model edits
at (its aspect kept, its sides multiples of what the pipeline needs), edited from noise seeded with
its request's seed, and resized back to the crop's size. It does not judge the result (blank,
unchanged or wrong pictures are the caller's to find). A model that cannot be loaded or run raises
``skips.EditorUnavailable`` with one sentence (``skips.editor_sentence`` words it for a job); a cancel
stays a cancel.
"""

from __future__ import annotations

import inspect
import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import PIL.Image
from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken
from ..models.editor_memory import DECODE, DENOISE, ENCODE, EditorPhase, check_editor_activations, editor_placement
from ..models.registry import editor_dtype
from .editor_parts import EditorOptions, EditorPart
from .skips import editor_unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EditRequest:
    """One crop to edit: an RGB picture, what to do to it, and the seed of its noise."""

    image: PIL.Image.Image   # RGB crop
    instruction: str
    seed: int = 0


@dataclass(frozen=True)
class EditorDefaults:
    """The steps and guidance a run takes: a distilled model's (the registry's, from its model card),
    else the pipeline's own ``__call__`` defaults (read from its signature, not restated here)."""

    steps: int
    guidance: float

    @classmethod
    def of(cls, pipeline: Any, options: EditorOptions) -> "EditorDefaults":
        if pipeline.config.is_distilled:
            return cls(options.distilled_steps, options.distilled_guidance)
        parameters = inspect.signature(type(pipeline).__call__).parameters
        return cls(int(parameters["num_inference_steps"].default), float(parameters["guidance_scale"].default))



@dataclass
class EditorModel:
    """diffusers' pipeline over the parts one phase holds, its defaults, and the area and side multiple
    it edits at."""

    pipeline: Any
    defaults: EditorDefaults
    working_pixels: int

    @classmethod
    def of(cls, parts: dict[str, EditorPart]) -> "EditorModel":
        """The pipeline the folder's ``model_index.json`` names, over ``parts`` (the others None)."""
        import diffusers
        from diffusers import FlowMatchEulerDiscreteScheduler

        setup = next(iter(parts.values())).setup
        text = parts.get("text_encoder")
        pipeline = getattr(diffusers, setup.pipeline)(
            scheduler=FlowMatchEulerDiscreteScheduler.from_config(setup.scheduler),
            vae=_module(parts, "vae"), transformer=_module(parts, "transformer"),
            text_encoder=_module(parts, "text_encoder"), tokenizer=text.tokenizer if text is not None else None,
            is_distilled=setup.is_distilled)
        pipeline.set_progress_bar_config(disable=True)  # tqdm on stderr per step: the job's progress says it
        return cls(pipeline, EditorDefaults.of(pipeline, setup.options), setup.options.working_pixels)

    @property
    def multiple(self) -> int:
        """What each side of an edited picture must be a multiple of: the VAE's scale times the
        transformer's 2 x 2 patches (the pipeline crops to it: ``Flux2KleinPipeline.__call__``)."""
        return int(self.pipeline.vae_scale_factor) * 2

    def _limit(self, name: str) -> Any:
        """One of the limits the pipeline checks every picture against (its image processor's
        ``check_image_input`` defaults: the shortest side, the most elongated aspect), read from it."""
        return inspect.signature(type(self.pipeline.image_processor).check_image_input).parameters[name].default

    def working_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """``size`` scaled to the working area, each side a multiple of ``multiple`` and at least the
        pipeline's shortest side, its aspect kept up to the pipeline's most elongated (a longer crop is
        stretched to it, and back when the result is resized to the crop's size)."""
        width, height = size
        most = float(self._limit("max_aspect_ratio"))
        aspect = min(max(width / max(1, height), 1 / most), most)
        step = self.multiple
        shortest = math.ceil(int(self._limit("min_side_length")) / step) * step

        def side(length: float) -> int:
            return max(shortest, round(length / step) * step)

        return side(math.sqrt(self.working_pixels * aspect)), side(math.sqrt(self.working_pixels / aspect))


def _module(parts: dict[str, EditorPart], name: str) -> Any:
    return parts[name].module if name in parts else None


@dataclass
class Instructions:
    """The text encoder's output for each distinct instruction, and for a base model (which runs
    classifier-free guidance) the empty negative instruction's; None for a distilled one."""

    embeddings: dict[str, Any]
    negative: Any = None


def edit_images(manager: Any, requests: Sequence[EditRequest], cancel: CancelToken) -> list[PIL.Image.Image]:
    """Each request's crop edited by the manager's editor (in phases, each holding its parts on the device
    within the budget), RGB, at the crop's size; ``skips.EditorUnavailable`` with one sentence when it cannot
    be loaded or run, or does not fit (a cancel stays a cancel)."""
    if not requests:
        return []
    try:
        return _edit(manager, list(requests), cancel)
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        raise editor_unavailable(manager, exc) from exc
    except Exception as exc:  # the boundary of the editing step: any failure keeps the crops as they are
        raise editor_unavailable(manager, exc) from exc


def _edit(manager: Any, requests: list[EditRequest], cancel: CancelToken) -> list[PIL.Image.Image]:
    pixels = EditorOptions.of(manager.spec("editor")).working_pixels
    itemsize = editor_dtype(manager.device).itemsize
    fit = editor_placement(manager.part_sizes("editor"), pixels, manager.device, itemsize, budget=manager.budget())
    log.info("%s", fit.sentence())
    with _phase(manager, ENCODE, pixels, itemsize, cancel) as model:
        instructions = encode_instructions(model, requests, manager.device, cancel)
    with _phase(manager, DENOISE, pixels, itemsize, cancel) as model:
        latents = denoise(model, requests, instructions, cancel)
    with _phase(manager, DECODE, pixels, itemsize, cancel) as model:
        return decode(model, requests, latents, cancel)


@contextmanager
def _phase(manager: Any, phase: EditorPhase, pixels: int, itemsize: int,
           cancel: CancelToken) -> Iterator[EditorModel]:
    """The phase's parts resident on the device for the block, as a pipeline; its activations checked
    against the memory free beside them. A cancel is checked first: a cancelled edit loads nothing more."""
    cancel.check()
    with manager.use("editor", phase.parts) as parts:
        check_editor_activations(pixels, itemsize, manager.device, phase=phase)
        yield EditorModel.of(parts)


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
            cancel: CancelToken, steps: int = 0) -> list[Any]:
    """Phase 2, the VAE and the transformer: each crop encoded and denoised from noise seeded with its seed
    by the pipeline's own call, given the instruction's embeddings, in ``steps`` (0: the model's default);
    its latents, ready to decode. A cancel is checked before each request and each denoising step."""
    import torch

    pipeline = model.pipeline
    hook = pipeline.transformer.register_forward_pre_hook(lambda module, args: cancel.check())
    try:
        latents = []
        for request in requests:
            cancel.check()
            crop = request.image.convert("RGB")
            width, height = model.working_size(crop.size)
            generator = torch.Generator(device="cpu").manual_seed(request.seed)
            with torch.inference_mode():
                output = pipeline(image=crop.resize((width, height), PIL.Image.Resampling.BICUBIC),
                                  prompt_embeds=instructions.embeddings[request.instruction],
                                  negative_prompt_embeds=instructions.negative, height=height, width=width,
                                  num_inference_steps=steps or model.defaults.steps,
                                  guidance_scale=model.defaults.guidance, generator=generator, output_type="latent")
            latents.append(output.images)
        return latents
    finally:
        hook.remove()


def decode(model: EditorModel, requests: Sequence[EditRequest], latents: Sequence[Any],
           cancel: CancelToken) -> list[PIL.Image.Image]:
    """Phase 3, the VAE: each request's latents decoded, RGB, resized back to its crop's size."""
    import torch

    edited = []
    for request, latent in zip(requests, latents, strict=True):
        cancel.check()
        with torch.inference_mode():
            # What Flux2KleinPipeline.__call__ does after denoising for any output_type but "latent".
            image = model.pipeline.vae.decode(latent, return_dict=False)[0]
            image = model.pipeline.image_processor.postprocess(image, output_type="pil")[0]
        edited.append(image.convert("RGB").resize(request.image.size, PIL.Image.Resampling.BICUBIC))
    return edited
