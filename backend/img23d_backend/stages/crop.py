"""Cutting one target out of the picture: its box grown by a margin, square-ish, inside the image."""

from __future__ import annotations

from PIL import Image

Box = tuple[float, float, float, float]


def crop_box(box: Box, image_size: tuple[int, int], margin: float = 0.1, min_size: int = 64) -> tuple[int, int, int, int]:
    """Integer crop rectangle (x0, y0, x1, y1) around ``box``.

    The margin is a fraction of the box's longer side, added on every side, because matting
    and the shape model both need some background around the object to see its outline.
    The crop is grown to at least ``min_size`` a side (or the image's size, if smaller),
    then shifted, never shrunk, to stay inside the image.
    """
    width, height = image_size
    x0, y0, x1, y1 = box
    pad = max(x1 - x0, y1 - y0) * margin
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    x0, x1 = _grow_and_fit(x0, x1, min(min_size, width), width)
    y0, y1 = _grow_and_fit(y0, y1, min(min_size, height), height)
    return x0, y0, x1, y1


def _grow_and_fit(lo: float, hi: float, min_len: int, limit: int) -> tuple[int, int]:
    if hi - lo < min_len:
        centre = (lo + hi) / 2
        lo, hi = centre - min_len / 2, centre + min_len / 2
    if lo < 0:
        hi, lo = hi - lo, 0.0
    if hi > limit:
        lo, hi = lo - (hi - limit), float(limit)
    lo_i, hi_i = max(0, int(round(lo))), min(limit, int(round(hi)))
    if hi_i - lo_i < min_len:  # rounding can lose a pixel at the border
        lo_i = max(0, hi_i - min_len)
        hi_i = min(limit, lo_i + min_len)
    return lo_i, hi_i


def crop(image: Image.Image, rect: tuple[int, int, int, int]) -> Image.Image:
    return image.crop(rect)
