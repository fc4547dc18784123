"""Editing: an image editor fills in what is hidden in an object's crops, from an instruction.

The model (``black-forest-labs/FLUX.2-klein-4B`` by default, ``Qwen/Qwen-Image-Edit-2511`` with
``--editor qwen-image-edit-2511``, or their tiny replicas; ``models/editor_model.py`` and
``models/qwen_edit_model.py`` say where their files and facts come from)
is registered with the model manager as three parts
(``stages/editor_parts.py`` reads each on its own), and ``edit_images`` runs in three phases, each
holding on the device only the parts it needs (``models/editor_memory.EDITOR_PHASES``). FLUX.2
[klein]'s phases are here; Qwen-Image-Edit-2511's, whose text encoder also reads each crop, are
``qwen_editing``'s (``PHASES`` picks by the pipeline ``model_index.json`` names):

1. the text encoder encodes each distinct instruction (``Flux2KleinPipeline.encode_prompt``; a base
   model's empty negative instruction as well);
2. the transformer and the VAE: diffusers' own ``Flux2KleinPipeline.__call__`` with those
   embeddings and ``output_type="latent"``, which encodes the crop, denoises, and unpacks,
   de-normalises and unpatchifies the latents as upstream does. A request with more pictures of the
   object (``EditRequest.references``, its views) passes ``image`` as a list, the crop's canvas first:
   the pipeline encodes each picture on its own and appends its latents to the sequence with
   positions of their own (``_prepare_image_ids``: time 10 for the first, 20, 30 ... for the next),
   and the answer is painted at the crop's canvas;
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
activations fit in the memory free beside its parts. Each crop is placed on its canvas
(``edit_canvas``: about the area the model edits at, a size the pipeline keeps for its reference and its
answer alike, the crop scaled to fit and centred on white), edited from noise seeded with its request's
seed, and the answer's part where the crop lay scaled back to the crop's size. It does not judge the result (blank,
unchanged or wrong pictures are the caller's to find). A model that cannot be loaded or run raises
``skips.EditorUnavailable`` with one sentence (``skips.editor_sentence`` words it for a job); a cancel
stays a cancel.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import PIL.Image
from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken
from .memory import DECODE, DENOISE, ENCODE, EditorPhase, check_editor_activations, editor_placement
from ..models.registry import DEFAULT_EDITOR, EDITORS, editor_dtype
from .qwen_edit import phases as qwen_editing
from .pipeline import CanvasLatents, EditorModel, EditRequest
from .parts import EditorOptions
from ..stages.skips import editor_unavailable

log = logging.getLogger(__name__)


@dataclass
class Instructions:
    """The text encoder's output for each distinct instruction, and for a base model (which runs
    classifier-free guidance) the empty negative instruction's; None for a distilled one."""

    embeddings: dict[str, Any]
    negative: Any = None


def edit_images(manager: Any, requests: Sequence[EditRequest], cancel: CancelToken,
                edit_size: int = 0) -> list[PIL.Image.Image]:
    """Each request's crop edited by the manager's editor (in phases, each holding its parts on the device
    within the budget), RGB, at the crop's size; ``skips.EditorUnavailable`` with one sentence when it cannot
    be loaded or run, or does not fit (a cancel stays a cancel). ``edit_size``: each crop is edited at the
    area of a square of that side (the job's option); 0, the registry's area for the model."""
    if not requests:
        return []
    try:
        return _edit(manager, list(requests), cancel, edit_size)
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        raise editor_unavailable(manager, exc) from exc
    except Exception as exc:  # the boundary of the editing step: any failure keeps the crops as they are
        raise editor_unavailable(manager, exc) from exc


def _edit(manager: Any, requests: list[EditRequest], cancel: CancelToken, edit_size: int) -> list[PIL.Image.Image]:
    pixels = edit_size * edit_size or EditorOptions.of(manager.spec("editor")).working_pixels
    itemsize = editor_dtype(manager.device).itemsize
    spec = manager.spec("editor")
    # A model that does not fit is told apart from the default editor, which the sentence then offers.
    smaller = DEFAULT_EDITOR if spec.repo_id != EDITORS[DEFAULT_EDITOR].repo_id else None
    references = max(len(request.references) for request in requests)  # the crops are denoised one by one
    fit = editor_placement(manager.part_sizes("editor"), pixels, manager.device, itemsize, budget=manager.budget(),
                           smaller_editor=smaller, references=references)
    log.info("%s", fit.sentence())
    with _phase(manager, ENCODE, pixels, itemsize, cancel) as model:
        run = PHASES[type(model.pipeline).__name__]
        instructions = run.encode(model, requests, manager.device, cancel)
    with _phase(manager, DENOISE, pixels, itemsize, cancel, references) as model:
        latents = run.denoise(model, requests, instructions, cancel)
    with _phase(manager, DECODE, pixels, itemsize, cancel) as model:
        return run.decode(model, requests, latents, cancel)


@contextmanager
def _phase(manager: Any, phase: EditorPhase, pixels: int, itemsize: int, cancel: CancelToken,
           references: int = 0) -> Iterator[EditorModel]:
    """The phase's parts resident on the device for the block, as a pipeline; its activations (with
    ``references`` more pictures beside a crop) checked against the memory free beside them. A cancel is
    checked first: a cancelled edit loads nothing more."""
    cancel.check()
    with manager.use("editor", phase.parts) as parts:
        check_editor_activations(pixels, itemsize, manager.device, phase=phase, references=references)
        model = EditorModel.of(parts)
        model.working_pixels = pixels  # the job's area, when it names one
        yield model


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
            canvas = model.canvas(request.image.size)
            generator = torch.Generator(device="cpu").manual_seed(request.seed)
            with torch.inference_mode():
                # A list: diffusers encodes each picture as reference latents of its own (the crop's first).
                output = pipeline(image=model.pictures(request),
                                  prompt_embeds=instructions.embeddings[request.instruction],
                                  negative_prompt_embeds=instructions.negative, height=canvas.height,
                                  width=canvas.width, num_inference_steps=steps or model.defaults.steps,
                                  guidance_scale=model.defaults.guidance, generator=generator, output_type="latent")
            latents.append(CanvasLatents(output.images, canvas))
        return latents
    finally:
        hook.remove()


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


@dataclass(frozen=True)
class EditorPhases:
    """One model's three phases (``encode`` -> ``denoise`` -> ``decode``), each given the pipeline
    over the parts its phase holds."""

    encode: Callable[..., Any]
    denoise: Callable[..., Any]
    decode: Callable[..., list[PIL.Image.Image]]


# The pipeline a folder's model_index.json names -> its phases (FLUX.2 [klein]'s above).
PHASES = {"Flux2KleinPipeline": EditorPhases(encode_instructions, denoise, decode),
          "QwenImageEditPlusPipeline": EditorPhases(qwen_editing.encode_instructions, qwen_editing.denoise,
                                                    qwen_editing.decode)}
