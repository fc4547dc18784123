"""Texels around the charts: the gutter dilated, the rest of the background filled.

Dilation grows every chart outward by ``padding`` texels, one ring per pass: a background texel
touching written texels (its 8 neighbours) takes their mean. Mip-mapping and bilinear filtering then
read the chart's own colour at its borders, not the background (the margin of Blender's bake does
the same, with its "extend" margin type). What is still background after the padding takes the mean
of the written texels (colour) or the flat normal: the texture has no seam to average across there.
"""

from __future__ import annotations

import cv2
import numpy as np

_RING = np.ones((3, 3), dtype=np.float32)  # the 8 neighbours (the centre is never written in a ring)


def _neighbour_sum(array: np.ndarray) -> np.ndarray:
    return cv2.filter2D(array, -1, _RING, borderType=cv2.BORDER_CONSTANT)


def dilate(image: np.ndarray, written: np.ndarray, padding: int) -> tuple[np.ndarray, np.ndarray]:
    """Grow the written texels of ``image`` (H, W, 3) by ``padding`` rings.

    Returns the image (float32) and the new mask of written texels.
    """
    image = np.ascontiguousarray(image, dtype=np.float32)
    written = written.copy()
    for _ in range(padding):
        weight = written.astype(np.float32)
        count = _neighbour_sum(weight)
        ring = ~written & (count > 0)
        if not ring.any():
            break
        total = _neighbour_sum(image * weight[..., None])
        image[ring] = total[ring] / count[ring][:, None]
        written |= ring
    return image, written


def fill_background(image: np.ndarray, written: np.ndarray, value: np.ndarray | None = None) -> np.ndarray:
    """Texels never written take ``value`` (default: the mean of the written ones)."""
    image = image.copy()
    if value is None:
        value = image[written].mean(axis=0) if written.any() else np.zeros(image.shape[-1])
    image[~written] = value
    return image
