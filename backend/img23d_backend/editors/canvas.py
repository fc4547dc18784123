"""The canvas an image editor paints on: the crop scaled to fit it, its aspect kept, centred on white,
on a picture of a size the editor's pipeline keeps as it is; and the answer mapped back onto the crop
by the inverse of the same transform, so that what was seen lands exactly where it was.

Why a canvas of our own: each pipeline changes a picture's size on its way in, and reads its
reference at a size other than the one it answers at unless both are chosen for it.

Each editor states what its pipeline keeps unchanged (``Editor.canvas_rule``, in ``<editor>/editor.py``:
sides a multiple of the pipeline's, limits on the shortest side, the aspect and the area, or a size its
own resizing returns unchanged); among those sizes, the canvas that shows the crop largest at about the
edit's area is taken here, whichever editor it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import PIL.Image

from .editor import CanvasRule

PAD = (255, 255, 255)  # the editor is asked for the object on a plain white background


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
