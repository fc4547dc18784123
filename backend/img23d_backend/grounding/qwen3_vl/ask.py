"""Grounding with Qwen3-VL: the picture and a question in, the model's answer in words out.

This module loads the model (in its dtype, ``grounding_dtype``), asks the question and reads the answer as it is
generated, stopping where it ends (``answer_scan``); ``detections`` reads the boxes in it (``grounder`` hands them
to the room).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ...env.gpu_knobs import attention_for
from ...env.job_control import CancelToken, ProgressFn
from ...models.dtypes import bf16_native
from ...models.placement import LoadedModel
from ...models.weight_keys import from_pretrained as checked_pretrained
from ..grounder import ANSWER_TOKEN_CAP, GroundingOptions, StopReason
from .answer_scan import AnswerScanner
from .detections import grounding_prompt
from .model import QWEN3_VL_GRID

__all__ = ["GroundingModel", "GroundingOptions", "QwenAnswer", "load_grounding", "ground", "answer_budget"]

log = logging.getLogger(__name__)


@dataclass
class GroundingModel:
    model: Any
    processor: Any


@dataclass(frozen=True)
class QwenAnswer:
    """The model's answer in words, stopped where it ended (``grounder`` reads its boxes)."""

    text: str
    tokens: int               # tokens generated
    budget: int               # the max_new_tokens it ran under
    stop_reason: StopReason = StopReason.END_OF_TEXT
    repeats: int = 0          # boxes that repeated an earlier one of their label, as generated

    @property
    def cut_off(self) -> bool:
        """The budget ended the answer: what was complete is read, later boxes may be missing."""
        return self.stop_reason is StopReason.BUDGET


def grounding_dtype(device: Any) -> Any:
    """Qwen3-VL's dtype: bf16 where the device runs it natively, else fp32, never fp16.

    Qwen3-VL is trained in bf16 and its activations leave fp16's range (65504): in fp16 the
    answers turn into NaN/inf garbage. Where bf16 is missing (GPUs before Ampere, macOS before
    14) fp32 costs twice the memory but answers correctly.
    """
    import torch

    return torch.bfloat16 if bf16_native(device) else torch.float32


def load_grounding(folder: Path, device: Any) -> LoadedModel:
    """Load Qwen3-VL (real or tiny replica) from ``folder`` straight onto ``device``."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(str(folder))
    model = checked_pretrained(
        AutoModelForImageTextToText, folder, dtype=grounding_dtype(device), device_map={"": str(device)},
        attn_implementation=attention_for(device),  # flash_attention_2, sdpa or eager: env/gpu_knobs.py
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


# What an answer may cost in tokens, so that the budget never cuts a real one. The prompt asks
# for every instance of every name, and Qwen3-VL writes one line per box, each repeating its label:
BOX_LINE = '  {"bbox_2d": [1000, 1000, 1000, 1000], "label": ""},\n'
# Qwen's tokenizer is a byte-level BPE: every token holds at least one byte, so a text never
# takes more tokens than it has UTF-8 bytes. Counting bytes cannot fall short, whatever the
# vocabulary merges (digits are one token each in any case; the punctuation and key names
# usually merge, so a real line takes ~33-38 tokens where this counts 54 plus the label's bytes).
BOX_LINE_TOKENS = len(BOX_LINE.encode("utf-8"))   # 54: every coordinate counted as "1000"
MAX_INSTANCES_PER_NAME = 12
LABEL_SLACK_TOKENS = 8      # the label may be the name in the plural, or with a word more
ANSWER_BASE_TOKENS = 64     # the fence, the brackets, a sentence around them
# What an answer usually takes, for the progress bar only: a few boxes per name. The budget above
# must hold the rare long answer; a bar drawn against it would sit near empty for the usual one.
TYPICAL_BOXES_PER_NAME = 3


def typical_answer_tokens(targets: list[str]) -> int:
    return ANSWER_BASE_TOKENS + TYPICAL_BOXES_PER_NAME * BOX_LINE_TOKENS * max(1, len(targets))


def progress_total(tokens: int, typical: int, budget: int) -> int:
    """The grounding bar's total after ``tokens``: the typical length, pushed ahead of an answer
    that runs longer (so the bar keeps moving without reaching its end), never over the budget."""
    return max(1, min(budget, max(typical, tokens + typical // 2)))


def answer_budget(targets: list[str], *, cap: int = ANSWER_TOKEN_CAP) -> int:
    """``max_new_tokens`` for ``targets``: room for ``MAX_INSTANCES_PER_NAME`` box lines of each
    name, never above ``cap``. Generation stops when the answer ends; this only bounds it."""
    one_of_each = sum(BOX_LINE_TOKENS + len(name.strip().encode("utf-8")) + LABEL_SLACK_TOKENS for name in targets)
    return max(1, min(cap, ANSWER_BASE_TOKENS + MAX_INSTANCES_PER_NAME * one_of_each))


class IncrementalText:
    """The text of tokens as they come, decoding only a small window per token.

    Decoding one token alone is wrong for a character split over tokens (byte-level BPE) and for
    tokenizers that space words by their neighbours, and decoding the whole answer after every
    token costs time quadratic in its length. As text-generation servers do, decode the tokens
    from ``prefix`` (the last emitted text's start) to ``read`` and to the end; the difference is
    the new text, held back while it ends in U+FFFD (a character not complete yet).
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = self.read = 0

    def push(self, token: int) -> str:
        self.ids.append(token)
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix:self.read], skip_special_tokens=True)
        after = decode(self.ids[self.prefix:], skip_special_tokens=True)
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before):]


class _AnswerWatch:
    """generate()'s stopping criterion: after every token, stop on cancel or once the answer has
    ended (``AnswerScanner``), and report progress (the add-on's watchdog listens for it)."""

    def __init__(self, tokenizer: Any, prompt_length: int, budget: int, cancel: CancelToken,
                 progress: ProgressFn | None, typical: int = 0) -> None:
        self.prompt_length, self.budget, self.typical = prompt_length, budget, typical or budget
        self.cancel, self.progress = cancel, progress
        self.text = IncrementalText(tokenizer)
        self.scanner = AnswerScanner()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        # One sequence per call here; normally one new token since the last call.
        for token in input_ids[0, self.prompt_length + len(self.text.ids):].tolist():
            self.scanner.feed(self.text.push(int(token)))
        tokens = len(self.text.ids)
        if self.progress is not None and tokens % 16 == 0:
            self.progress("grounding", tokens, progress_total(tokens, self.typical, self.budget),
                          f"answering ({tokens} tokens)")
        done = self.cancel.cancelled or self.scanner.stop is not None
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


def ground(grounder: GroundingModel, image: Image.Image, targets: list[str], *, options: GroundingOptions,
           cancel: CancelToken, progress: ProgressFn | None = None, prompt: str | None = None) -> QwenAnswer:
    """Ask the model where ``targets`` are; return its answer in words, stopped where it ends.

    With ``prompt`` (a question of its own, such as which objects the picture holds) the names
    say nothing of the answer's length, so the budget is the model's cap.
    """
    import torch
    from transformers import StoppingCriteriaList

    picture = fit_pixels(image.convert("RGB"), options.max_pixels, processor_grid(grounder.processor))
    messages = [{"role": "user", "content": [{"type": "image", "image": picture},
                                             {"type": "text", "text": prompt or grounding_prompt(targets)}]}]
    inputs = grounder.processor.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                                    return_dict=True, return_tensors="pt")
    inputs = inputs.to(grounder.model.device)
    prompt_length = inputs["input_ids"].shape[1]
    budget = (options.max_new_tokens if prompt is not None
              else answer_budget(targets, cap=options.max_new_tokens))
    typical = min(budget, typical_answer_tokens(targets) if prompt is None else 512)
    watch = _AnswerWatch(grounder.processor.tokenizer, prompt_length, budget, cancel, progress, typical)
    with torch.inference_mode():
        output = grounder.model.generate(**inputs, max_new_tokens=budget, do_sample=False,
                                         stopping_criteria=StoppingCriteriaList([watch]))
    cancel.check()
    answer_ids = output[:, prompt_length:]
    tokens = int(answer_ids.shape[1])
    text = grounder.processor.batch_decode(answer_ids, skip_special_tokens=True)[0]
    ended = not (tokens >= budget and not _ended_turn(grounder, answer_ids))
    # A model that ends its turn right after its last value (a closing fence) gave a whole answer.
    reason = watch.scanner.stop or (StopReason.BUDGET if not ended else
                                    StopReason.CLOSED if watch.scanner.complete else StopReason.END_OF_TEXT)
    log.info("grounding answer (%d of %d tokens, %s): %.300s", tokens, budget, reason.value, text)
    return QwenAnswer(text=text, tokens=tokens, budget=budget, stop_reason=reason, repeats=watch.scanner.repeats)


def _ended_turn(grounder: GroundingModel, answer_ids: Any) -> bool:
    """True when the answer's last token is one that ends the model's turn."""
    ends = grounder.model.generation_config.eos_token_id
    ends = {ends} if isinstance(ends, int) else set(ends or ())
    return answer_ids.shape[1] > 0 and int(answer_ids[0, -1]) in ends
