"""Qwen-Image-Edit-2511 behind the editor interface (``editors.editor.Editor``): its part readers, its
phases, the canvas its pipeline keeps, and its replica.

The canvas: ``QwenImageEditPlusPipeline.__call__`` resizes its reference to
``calculate_dimensions(VAE_IMAGE_SIZE, its aspect)`` (sides multiples of 32) whatever ``height`` and
``width`` say; the answer is ``height`` x ``width`` floored to ``vae_scale_factor * 2``. So its canvas
is a size ``calculate_dimensions`` returns unchanged at the area the edit runs at
(``phases.reference_area`` has the pipeline read its reference at that area).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...models.replica_common import Size
from ...models.specs import ModelReplica
from ..editor import CanvasRule, Editor
from . import replica
from .model import NAME, QWEN_EDIT_PARAMETERS
from .parts import READERS
from .phases import PHASES


def _dimensions(area: int, aspect: float) -> tuple[int, int]:
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions

    width, height = calculate_dimensions(area, aspect)
    return int(width), int(height)


def canvas_rule(pipeline: Any) -> CanvasRule:
    """Multiples of the VAE's scale times the 2 x 2 patches, at sizes its own resizing keeps."""
    return CanvasRule(int(pipeline.vae_scale_factor) * 2, fixed_point=_dimensions)


def edit_pixels(pixels: int) -> int:
    return pixels  # it edits at the area asked


@lru_cache(maxsize=None)
def canvas_pixels(pixels: int) -> int:
    """The largest size ``calculate_dimensions`` keeps at ``pixels``, for crops up to 8:1 (a little over
    the area asked)."""
    side = math.sqrt(pixels)
    sizes = [(w, h) for w in range(32, int(side * math.sqrt(8)) + 64, 32)
             for h in range(max(32, int(pixels / w) - 64) // 32 * 32, int(pixels / w) + 96, 32)
             if max(w / h, h / w) <= 8 and _dimensions(pixels, w / h) == (w, h)]
    return max(w * h for w, h in sizes)


def _build(dest: Path, size: Size) -> tuple[dict[str, Any], int]:
    dims = replica.config(size)
    return replica.build(dest, dims), dims.seed


# Its transformer (20.43B), Qwen2.5-VL-7B text encoder (8.29B) and VAE (127M), from the published configs,
# which the files' sizes and tensor counts confirm (``model``). Not built by the tests at full size:
# 57.7 GB of disk, and as much RAM to write each part in bfloat16.
EDITOR = Editor(name=NAME, readers=READERS, phases=PHASES, canvas_rule=canvas_rule, edit_pixels=edit_pixels,
                canvas_pixels=canvas_pixels,
                replica=ModelReplica(build=_build, construct=lambda: replica.construct(replica.config("full")),
                                published_params={part: float(n) for part, n in QWEN_EDIT_PARAMETERS.items()}))
