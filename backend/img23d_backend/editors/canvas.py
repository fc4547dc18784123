"""The canvas an image editor paints on: the crop scaled to fit it, its aspect kept, centred on white,
on a picture of a size the editor's pipeline keeps as it is; and the answer mapped back onto the crop
by the inverse of the same transform, so that what was seen lands exactly where it was.

Why a canvas of our own: each pipeline changes a picture's size on its way in, and reads its
reference at a size other than the one it answers at unless both are chosen for it.

- FLUX.2 [klein] (``Flux2KleinPipeline.__call__``): a reference of more than 1024 x 1024's area (its
  image processor's ``check_image_input`` ``max_area``) is shrunk to that area, each side floored to a
  multiple of ``vae_scale_factor * 2`` and centre-cropped; the answer is ``height`` x ``width`` floored
  to the same multiple. The positions of both start at 0, so a reference of another size is read as
  shifted and scaled (1,216 x 864 asked of a 1,200 x 848 reference: 43 % of crop shapes at 1024).
- Qwen-Image-Edit-2511 (``QwenImageEditPlusPipeline.__call__``): the reference is resized to
  ``calculate_dimensions(VAE_IMAGE_SIZE, its aspect)`` (sides multiples of 32) whatever ``height`` and
  ``width`` say; the answer is ``height`` x ``width`` floored to ``vae_scale_factor * 2``.

So a canvas's sides are multiples of the pipeline's, within klein's limits (shortest side, most
elongated aspect, largest area) and, for Qwen, a size ``calculate_dimensions`` returns unchanged at
the area the edit runs at (``qwen_editing.reference_area`` has the pipeline read its reference at that
area). Among those, the canvas that shows the crop largest at about the edit's area is taken.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import PIL.Image

PAD = (255, 255, 255)  # the editor is asked for the object on a plain white background
KLEIN = "Flux2KleinPipeline"
QWEN_EDIT = "QwenImageEditPlusPipeline"


@dataclass(frozen=True)
class Canvas:
    """Where a crop of ``source`` (width, height) lies on a canvas of ``size``: scaled to ``inner``
    (x0, y0, x1, y1), the rest white."""

    source: tuple[int, int]
    size: tuple[int, int]
    inner: tuple[int, int, int, int]

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def place(self, crop: PIL.Image.Image) -> PIL.Image.Image:
        """The crop (RGB) on the canvas: scaled to ``inner`` and pasted on white."""
        if crop.size != self.source:
            raise ValueError(f"a {crop.size[0]} x {crop.size[1]} crop on a canvas made for {self.source}")
        x0, y0, x1, y1 = self.inner
        scaled = crop.convert("RGB")
        if (x1 - x0, y1 - y0) != self.source:
            scaled = scaled.resize((x1 - x0, y1 - y0), PIL.Image.Resampling.BICUBIC)
        canvas = PIL.Image.new("RGB", self.size, PAD)
        canvas.paste(scaled, (x0, y0))
        return canvas

    def back(self, answer: PIL.Image.Image) -> PIL.Image.Image:
        """The editor's answer (the canvas's size) where the crop lay, scaled back to the crop's size
        (RGB). Another size is a bug of the canvas rule, never resized to fit: that would misalign."""
        if answer.size != self.size:
            raise ValueError(f"the editor painted {answer.size[0]} x {answer.size[1]} on a "
                             f"{self.size[0]} x {self.size[1]} canvas")
        piece = answer.convert("RGB").crop(self.inner)
        return piece if piece.size == self.source else piece.resize(self.source, PIL.Image.Resampling.BICUBIC)


@dataclass(frozen=True)
class CanvasRule:
    """What one pipeline keeps unchanged: sides a multiple of ``multiple``, at least ``shortest``, no more
    elongated than ``most_elongated``, at most ``largest`` pixels; ``fixed_point``: the reference is
    resized to ``calculate_dimensions(area, aspect)`` (Qwen-Image-Edit), so the canvas must be one of
    the sizes it returns unchanged."""

    multiple: int
    shortest: int = 0
    most_elongated: float = math.inf
    largest: float = math.inf
    fixed_point: bool = False

    def keeps(self, width: int, height: int, pixels: int) -> bool:
        if width % self.multiple or height % self.multiple or min(width, height) < self.shortest:
            return False
        if max(width / height, height / width) > self.most_elongated:
            return False
        if self.fixed_point:
            return _qwen_dimensions(pixels, width / height) == (width, height)
        return width * height <= min(pixels, self.largest)


def rule_of(pipeline: Any) -> CanvasRule:
    """The canvas rule of a diffusers pipeline (FLUX.2 [klein]'s or Qwen-Image-Edit-2511's), its facts
    read from the pipeline: the VAE's scale times the 2 x 2 patches, and klein's image checks."""
    multiple = int(pipeline.vae_scale_factor) * 2
    name = type(pipeline).__name__
    if name == QWEN_EDIT:
        return CanvasRule(multiple, fixed_point=True)
    if name == KLEIN:
        limits = _klein_limits()
        return CanvasRule(multiple, shortest=math.ceil(limits["min_side_length"] / multiple) * multiple,
                          most_elongated=limits["max_aspect_ratio"], largest=limits["max_area"])
    raise ValueError(f"img23d has no canvas rule for the pipeline {name!r}")


def choose(size: tuple[int, int], pixels: int, rule: CanvasRule) -> Canvas:
    """The canvas for a crop of ``size`` edited at about ``pixels``: of the sizes ``rule`` keeps, the one
    that shows the crop largest (ties: the smaller canvas)."""
    width, height = size
    aspect = width / height
    step = rule.multiple
    pixels = int(min(pixels, rule.largest))
    ideal = math.sqrt(pixels * min(max(aspect, 1 / rule.most_elongated), rule.most_elongated))
    best: tuple[float, int, tuple[int, int]] | None = None
    for canvas_width in range(max(step, rule.shortest), int(2 * ideal) + 2 * step + 1, step):
        around = {pixels / canvas_width, canvas_width / aspect}
        for centre in around:
            first = max(step, (int(centre) // step - 2) * step)
            for canvas_height in range(first, first + 5 * step, step):
                if not rule.keeps(canvas_width, canvas_height, pixels):
                    continue
                scale = min(canvas_width / width, canvas_height / height)
                score = (scale, -canvas_width * canvas_height, (canvas_width, canvas_height))
                if best is None or score[:2] > best[:2]:
                    best = score
    if best is None:
        raise ValueError(f"no canvas keeps a {width} x {height} crop at {pixels:,} pixels")
    scale, _, (canvas_width, canvas_height) = best
    inner_width = min(canvas_width, max(1, round(width * scale)))
    inner_height = min(canvas_height, max(1, round(height * scale)))
    x0, y0 = (canvas_width - inner_width) // 2, (canvas_height - inner_height) // 2
    return Canvas(source=(width, height), size=(canvas_width, canvas_height),
                  inner=(x0, y0, x0 + inner_width, y0 + inner_height))


def edit_pixels(pipeline_name: str, pixels: int) -> int:
    """The area a pipeline edits at when asked for ``pixels``: klein's canvas never exceeds its largest
    reference (1024 x 1024's area), so a larger ``--edit-size`` edits at that; Qwen-Image-Edit's is the
    area asked."""
    if pipeline_name == KLEIN:
        return int(min(pixels, _klein_limits()["max_area"]))
    if pipeline_name == QWEN_EDIT:
        return pixels
    raise ValueError(f"img23d has no canvas rule for the pipeline {pipeline_name!r}")


@lru_cache(maxsize=None)
def canvas_pixels(pipeline_name: str, pixels: int) -> int:
    """The most pixels any crop's canvas holds for ``pipeline_name`` (``model_index.json``'s
    ``_class_name``) asked to edit at ``pixels``: what the memory check and the time estimate count.
    Klein's: at most the area asked (and its largest); Qwen-Image-Edit's: the largest size
    ``calculate_dimensions`` keeps at that area, for crops up to 8:1 (a little over the area asked)."""
    area = edit_pixels(pipeline_name, pixels)
    if pipeline_name == KLEIN:
        return area
    side = math.sqrt(area)
    sizes = [(w, h) for w in range(32, int(side * math.sqrt(8)) + 64, 32)
             for h in range(max(32, int(area / w) - 64) // 32 * 32, int(area / w) + 96, 32)
             if max(w / h, h / w) <= 8 and _qwen_dimensions(area, w / h) == (w, h)]
    return max(w * h for w, h in sizes)


def _klein_limits() -> dict[str, float]:
    """FLUX.2 [klein]'s image processor's limits, read from its ``check_image_input``'s defaults."""
    from diffusers.pipelines.flux2.image_processor import Flux2ImageProcessor

    parameters = inspect.signature(Flux2ImageProcessor.check_image_input).parameters
    return {name: float(parameters[name].default) for name in ("min_side_length", "max_aspect_ratio", "max_area")}


def _qwen_dimensions(area: int, aspect: float) -> tuple[int, int]:
    from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions

    return tuple(calculate_dimensions(area, aspect))
