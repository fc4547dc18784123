"""What an edit runs on, whichever editor it is: the request (a crop, its instruction, its seed), the
run's defaults, and ``EditorModel``, diffusers' pipeline over the parts one phase holds with the area
and side multiple it edits at. ``editing`` (FLUX.2 [klein]'s phases and the order they run in) and
``qwen_editing`` (Qwen-Image-Edit-2511's phases) both build on it.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import PIL.Image

from .editor_parts import EditorOptions, EditorPart


@dataclass(frozen=True)
class EditRequest:
    """One crop to edit: an RGB picture, what to do to it, and the seed of its noise."""

    image: PIL.Image.Image   # RGB crop
    instruction: str
    seed: int = 0


@dataclass(frozen=True)
class EditorDefaults:
    """The steps and guidance a run takes. FLUX.2 [klein]: a distilled model's (the registry's, from its
    model card), else the pipeline's own ``__call__`` defaults (read from its signature, not restated
    here). Qwen-Image-Edit-2511: the registry's steps, true classifier-free guidance and negative
    instruction (its model card's example); ``guidance`` is then the true guidance scale."""

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
        return cls(pipeline, EditorDefaults.of(pipeline, setup.options), setup.options.working_pixels)

    @property
    def multiple(self) -> int:
        """What each side of an edited picture must be a multiple of: the VAE's scale times the
        transformer's 2 x 2 patches (both pipelines crop to it in ``__call__``)."""
        return int(self.pipeline.vae_scale_factor) * 2

    def _limit(self, name: str, unlimited: float) -> float:
        """One of the limits the pipeline checks every picture against (its image processor's
        ``check_image_input`` defaults: the shortest side, the most elongated aspect), read from it;
        ``unlimited`` for a pipeline that checks none (Qwen-Image-Edit's ``VaeImageProcessor``)."""
        check = getattr(type(self.pipeline.image_processor), "check_image_input", None)
        return unlimited if check is None else float(inspect.signature(check).parameters[name].default)

    def working_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """``size`` scaled to the working area, each side a multiple of ``multiple`` and at least the
        pipeline's shortest side, its aspect kept up to the pipeline's most elongated (a longer crop is
        stretched to it, and back when the result is resized to the crop's size)."""
        width, height = size
        most = self._limit("max_aspect_ratio", math.inf)
        aspect = min(max(width / max(1, height), 1 / most), most)
        step = self.multiple
        shortest = math.ceil(self._limit("min_side_length", step) / step) * step

        def side(length: float) -> int:
            return max(shortest, round(length / step) * step)

        return side(math.sqrt(self.working_pixels * aspect)), side(math.sqrt(self.working_pixels / aspect))


def _module(parts: dict[str, EditorPart], name: str) -> Any:
    return parts[name].module if name in parts else None
