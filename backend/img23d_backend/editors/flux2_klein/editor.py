"""FLUX.2 [klein] 4B behind the editor interface (``editors.editor.Editor``): its part readers, its
phases, the canvas its pipeline keeps, and its replica.

The canvas: ``Flux2KleinPipeline.__call__`` shrinks a reference of more than 1024 x 1024's area (its
image processor's ``check_image_input`` ``max_area``) to that area, each side floored to a multiple
of ``vae_scale_factor * 2`` and centre-cropped; the answer is ``height`` x ``width`` floored to the
same multiple. The positions of both start at 0, so a reference of another size is read as shifted
and scaled (1,216 x 864 asked of a 1,200 x 848 reference: 43 % of crop shapes at 1024). So its canvas
keeps those limits (shortest side, most elongated aspect, largest area), read from the processor.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

from ...models.replica_common import Size
from ...models.specs import ModelReplica
from ..editor import CanvasRule, Editor
from . import replica
from .model import KLEIN_PARAMETERS, NAME
from .parts import READERS
from .phases import PHASES


def _limits() -> dict[str, float]:
    """Its image processor's limits, read from its ``check_image_input``'s defaults."""
    from diffusers.pipelines.flux2.image_processor import Flux2ImageProcessor

    parameters = inspect.signature(Flux2ImageProcessor.check_image_input).parameters
    return {name: float(parameters[name].default) for name in ("min_side_length", "max_aspect_ratio", "max_area")}


def canvas_rule(pipeline: Any) -> CanvasRule:
    """The VAE's scale times the 2 x 2 patches, within the image processor's limits."""
    multiple = int(pipeline.vae_scale_factor) * 2
    limits = _limits()
    return CanvasRule(multiple, shortest=math.ceil(limits["min_side_length"] / multiple) * multiple,
                      most_elongated=limits["max_aspect_ratio"], largest=limits["max_area"])


def edit_pixels(pixels: int) -> int:
    """Its canvas never exceeds its largest reference (1024 x 1024's area): a larger ``--edit-size``
    edits at that."""
    return int(min(pixels, _limits()["max_area"]))


def _build(dest: Path, size: Size) -> tuple[dict[str, Any], int]:
    dims = replica.config(size)
    return replica.build(dest, dims), dims.seed


# FLUX.2 [klein] 4B's transformer (3.88B), VAE (84M) and Qwen3-4B text encoder (4.02B): counted from the
# published configs, which the published files' sizes confirm (``model``).
EDITOR = Editor(name=NAME, readers=READERS, phases=PHASES, canvas_rule=canvas_rule, edit_pixels=edit_pixels,
                canvas_pixels=edit_pixels,  # every crop's canvas holds at most the area it edits at
                replica=ModelReplica(build=_build, construct=lambda: replica.construct(replica.config("full")),
                                published_params={part: float(n) for part, n in KLEIN_PARAMETERS.items()}))
