"""Grounding with Qwen3-VL: the picture and the names in, one box per name out.

The text parsing lives in ``detections`` (stdlib only); this module loads the model,
asks the question and hands the raw answer to ``parse_detections``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ..models.placement import LoadedModel
from ..models.registry import QWEN3_VL_GRID
from ._common import CancelToken, ProgressFn, grounding_dtype
from .detections import Detection, grounding_prompt, parse_detections
from .matching import TargetMatch, match_targets

__all__ = ["Detection", "TargetMatch", "GroundingModel", "load_grounding", "ground", "parse_detections",
           "match_targets", "grounding_prompt"]

log = logging.getLogger(__name__)


@dataclass
class GroundingModel:
    model: Any
    processor: Any


def load_grounding(folder: Path, device: Any) -> LoadedModel:
    """Load Qwen3-VL (real or tiny replica) from ``folder`` straight onto ``device``."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(str(folder))
    model = AutoModelForImageTextToText.from_pretrained(
        str(folder), dtype=grounding_dtype(device), device_map={"": str(device)},
        use_safetensors=True)  # never unpickle a checkpoint
    model.eval()
    return LoadedModel(obj=GroundingModel(model, processor), modules=[model])


def fit_pixels(image: Image.Image, max_pixels: int, grid: int = QWEN3_VL_GRID) -> Image.Image:
    """The picture with both sides on the model's ``grid`` and width*height <= max_pixels.

    The answer is on a relative grid, so shrinking is free. Sides are snapped here the way
    the processor's ``smart_resize`` snaps them (nearest multiple, or rounded down when that
    is over the budget), so the processor has nothing left to round up past ``max_pixels``.
    """
    width, height = image.size
    snapped_w, snapped_h = max(grid, round(width / grid) * grid), max(grid, round(height / grid) * grid)
    if snapped_w * snapped_h > max_pixels:
        scale = (max_pixels / (width * height)) ** 0.5
        snapped_w = max(grid, math.floor(width * scale / grid) * grid)
        snapped_h = max(grid, math.floor(height * scale / grid) * grid)
    if (snapped_w, snapped_h) == (width, height):
        return image
    return image.resize((snapped_w, snapped_h), Image.Resampling.BICUBIC)


def processor_grid(processor: Any) -> int:
    """Pixels per visual token along one side, as the processor groups them (32 for Qwen3-VL)."""
    images = getattr(processor, "image_processor", None)
    patch, merge = getattr(images, "patch_size", None), getattr(images, "merge_size", None)
    return int(patch * merge) if isinstance(patch, int) and isinstance(merge, int) else QWEN3_VL_GRID


def ground(grounder: GroundingModel, image: Image.Image, targets: list[str], *, max_new_tokens: int,
           max_pixels: int, cancel: CancelToken, progress: ProgressFn | None = None,
           prompt: str | None = None) -> str:
    """Ask the model where ``targets`` are (or ``prompt``, when given); return its raw answer text."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _StopOnCancel(StoppingCriteria):
        # generate() checks this after every token: the only place to stop a long answer, and
        # to show that a slow answer is still coming (the add-on's watchdog listens for it).
        tokens = 0

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            self.tokens += 1
            if progress is not None and self.tokens % 16 == 0:
                progress("grounding", self.tokens, max_new_tokens, f"answering ({self.tokens} tokens)")
            return torch.full((input_ids.shape[0],), cancel.cancelled, dtype=torch.bool,
                              device=input_ids.device)

    picture = fit_pixels(image.convert("RGB"), max_pixels, processor_grid(grounder.processor))
    messages = [{"role": "user", "content": [{"type": "image", "image": picture},
                                             {"type": "text", "text": prompt or grounding_prompt(targets)}]}]
    inputs = grounder.processor.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                                    return_dict=True, return_tensors="pt")
    inputs = inputs.to(grounder.model.device)
    with torch.inference_mode():
        output = grounder.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                         stopping_criteria=StoppingCriteriaList([_StopOnCancel()]))
    cancel.check()
    answer_ids = output[:, inputs["input_ids"].shape[1]:]
    text = grounder.processor.batch_decode(answer_ids, skip_special_tokens=True)[0]
    log.info("grounding answer (%d tokens): %.300s", answer_ids.shape[1], text)
    return text


PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40)]


def draw_matches(image: Image.Image, matches: list[TargetMatch]) -> Image.Image:
    """The picture with each name's boxes and label drawn on it, one colour per name."""
    from PIL import ImageDraw

    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 300))
    for index, match in enumerate(matches):
        colour = PALETTE[index % len(PALETTE)]
        for number, detection in enumerate(match.detections, start=1):
            x0, y0, x1, y1 = detection.box
            draw.rectangle((x0, y0, x1, y1), outline=colour, width=width)
            label = match.target if len(match.detections) == 1 else f"{match.target} {number}"
            text_box = draw.textbbox((x0, y0), label)
            draw.rectangle((x0, y0, text_box[2] + 4, text_box[3] + 2), fill=colour)
            draw.text((x0 + 2, y0), label, fill=(255, 255, 255))
    return canvas
