"""What an edit runs on, whichever editor it is: the request (a crop, its instruction, its seed, and
the pictures of the same object beside it), the run's defaults, and ``EditorModel``, diffusers' pipeline
over the parts one phase holds with the area it edits at and the canvas a crop is edited on (``canvas``,
by the rule its editor states: ``rule_of``). ``driver`` (the order the phases run in) and each editor's
phases (``<editor>/phases.py``) build on it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import PIL.Image
from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken
from .canvas import Canvas, choose
from .editor import CanvasRule
from .parts import EditorOptions, EditorPart
from .table import editor_for_pipeline


@dataclass(frozen=True)
class EditRequest:
    """One crop to edit: an RGB picture, what to do to it, and the seed of its noise; ``references``:
    more pictures of the same object (RGB), given to the editor after the crop, which it answers for.
    Without a crop (``image`` None), a picture made from the instruction alone at ``size`` (width, height:
    ``text_picture``), for an editor whose row says it makes pictures from text."""

    image: PIL.Image.Image | None   # RGB crop; None: a picture made from the instruction alone
    instruction: str
    seed: int = 0
    references: tuple[PIL.Image.Image, ...] = ()
    size: tuple[int, int] | None = None  # the made picture's, without a crop (and only then)

    def __post_init__(self) -> None:
        if (self.image is None) == (self.size is None):
            raise ValueError("an edit request gives a crop or, to make a picture from its instruction, a size")
        if self.image is None and self.references:
            raise ValueError("a picture made from its instruction alone takes no references")


@dataclass
class CanvasLatents:
    """The denoising phase's output for one request: its latents (as the pipeline returns them with
    ``output_type="latent"``) and the canvas they were painted on, which decoding maps back."""

    latents: Any
    canvas: Canvas


@dataclass(frozen=True)
class EditorDefaults:
    """The steps and guidance a run takes: where its options name steps, those with their true
    classifier-free guidance and negative instruction (Qwen-Image-Edit-2511's model card's example;
    ``guidance`` is then the true guidance scale); else a distilled model's (FLUX.2 [klein]'s, from its
    model card), else the pipeline's own ``__call__`` defaults (read from its signature, not restated here)."""

    steps: int
    guidance: float
    negative: str | None = None

    @classmethod
    def of(cls, pipeline: Any, options: EditorOptions) -> "EditorDefaults":
        if options.steps:
            return cls(options.steps, options.true_cfg_scale, options.negative_prompt)
        if pipeline.config.is_distilled:
            return cls(options.distilled_steps, options.distilled_guidance)
        parameters = inspect.signature(type(pipeline).__call__).parameters
        return cls(int(parameters["num_inference_steps"].default), float(parameters["guidance_scale"].default))


class CancelledPartway(ProtocolError):
    """A cancel that came once some of a call's requests were done: ``done`` holds theirs, in order (the denoising
    phase's latents, then the decoded pictures), for a caller that keeps what was made (``driver.run_phases``)."""

    def __init__(self, done: list[Any]) -> None:
        super().__init__(ErrorCode.CANCELLED, "the job was cancelled")
        self.done = done


@dataclass
class EditorModel:
    """diffusers' pipeline over the parts one phase holds, its defaults, the area it edits at, the
    most pictures one edit gives it (the registry's), and who is told each request's index as its denoising ends
    (``denoised``: a picture made from text says so)."""

    pipeline: Any
    defaults: EditorDefaults
    working_pixels: int
    pictures_at_most: int = 1
    denoised: Callable[[int], None] | None = None

    @classmethod
    def of(cls, parts: dict[str, EditorPart]) -> "EditorModel":
        """The pipeline the folder's ``model_index.json`` names, over ``parts`` (the others None)."""
        import diffusers
        from diffusers import FlowMatchEulerDiscreteScheduler

        setup = next(iter(parts.values())).setup
        text = parts.get("text_encoder")
        kind = getattr(diffusers, setup.pipeline)
        components = {"scheduler": FlowMatchEulerDiscreteScheduler.from_config(setup.scheduler),
                      "vae": _module(parts, "vae"), "transformer": _module(parts, "transformer"),
                      "text_encoder": _module(parts, "text_encoder"),
                      "tokenizer": text.tokenizer if text is not None else None,
                      "processor": text.processor if text is not None else None, "is_distilled": setup.is_distilled}
        # Each pipeline takes its own of these (klein is_distilled, Qwen-Image-Edit the processor).
        accepted = inspect.signature(kind.__init__).parameters
        pipeline = kind(**{name: value for name, value in components.items() if name in accepted})
        pipeline.set_progress_bar_config(disable=True)  # tqdm on stderr per step: the job's progress says it
        return cls(pipeline, EditorDefaults.of(pipeline, setup.options), setup.options.working_pixels,
                   setup.options.pictures)

    def canvas(self, size: tuple[int, int]) -> Canvas:
        """The canvas a crop of ``size`` is edited on (``canvas``): a size this pipeline keeps for the
        reference and the answer alike, at about the working area, the crop on it unstretched."""
        return choose(size, self.working_pixels, rule_of(self.pipeline))

    def canvas_of(self, request: EditRequest) -> Canvas:
        """The canvas ``request`` is painted on: its crop's (``canvas``), or without a crop the whole
        picture at its size, which must be a multiple of the pipeline's (it would shrink another)."""
        if request.image is not None:
            return self.canvas(request.image.size)
        width, height = request.size or (0, 0)
        multiple = rule_of(self.pipeline).multiple
        if width % multiple or height % multiple or not width or not height:
            raise ValueError(f"a {width} x {height} picture: its sides must be multiples of {multiple}")
        return Canvas(source=(width, height), size=(width, height), inner=(0, 0, width, height))

    def pictures(self, request: EditRequest) -> list[PIL.Image.Image] | None:
        """What the pipeline's ``image`` takes for ``request``: its crop on its canvas first (the answer is
        painted at that canvas's size), then each reference on a canvas of its own, chosen as the crop's
        is, so the pipeline reads each at about the edit's area without resizing it; None without a crop
        (the picture is made from the instruction alone)."""
        if request.image is None:
            return None
        if 1 + len(request.references) > self.pictures_at_most:
            raise ValueError(f"{1 + len(request.references)} pictures for an editor that takes "
                             f"{self.pictures_at_most}")
        return [self.canvas(picture.size).place(picture) for picture in (request.image, *request.references)]

    def working_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size the editor paints at for a crop of ``size``: its canvas's (the benchmarks report it)."""
        return self.canvas(size).size


def _module(parts: dict[str, EditorPart], name: str) -> Any:
    return parts[name].module if name in parts else None


def rule_of(pipeline: Any) -> CanvasRule:
    """The canvas rule of a diffusers pipeline, as the editor whose pipeline it is states it."""
    return editor_for_pipeline(type(pipeline).__name__).canvas_rule(pipeline)


def canvas_pixels(pipeline_name: str, pixels: int) -> int:
    """The most pixels any crop's canvas holds for ``pipeline_name`` (``model_index.json``'s
    ``_class_name``) asked to edit at ``pixels``: what the memory check and the time estimate count."""
    return editor_for_pipeline(pipeline_name).canvas_pixels(pixels)


def denoise_each(model: EditorModel, requests: Sequence[EditRequest], cancel: CancelToken,
                 call: Callable[[int, EditRequest, Canvas, Any], Any]) -> list[CanvasLatents]:
    """Phase 2's loop, every editor's: for each request its canvas and its seeded generator, and
    ``call(index, request, canvas, generator)`` (the editor's own pipeline call, ``output_type="latent"``)
    under inference mode; its latents. A cancel is checked before each request and each transformer call; one that
    comes once some requests are denoised raises ``CancelledPartway`` with their latents."""
    import torch

    hook = model.pipeline.transformer.register_forward_pre_hook(lambda module, args: cancel.check())
    latents: list[CanvasLatents] = []
    try:
        for index, request in enumerate(requests):
            cancel.check()
            canvas = model.canvas_of(request)
            generator = torch.Generator(device="cpu").manual_seed(request.seed)
            with torch.inference_mode():
                output = call(index, request, canvas, generator)
            latents.append(CanvasLatents(output.images, canvas))
            if model.denoised is not None:
                model.denoised(index)
        return latents
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED and latents:
            raise CancelledPartway(latents) from exc
        raise
    finally:
        hook.remove()
