"""The fill of the texels no view saw (``stages.paint.fill.inpaint``): within ``NEAR_TEXELS`` of a known
texel at full size, as hy3dgen's whole-atlas Navier-Stokes inpainting fills them; the far gutter from an
inpainting at a quarter of the side, in the colours of what is known (``bench/paint_fill.py`` times it)."""

from __future__ import annotations

import cv2
import numpy as np

from img23d_backend.stages.paint.fill import NEAR_TEXELS, inpaint


def _disk(size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A known disk of a smooth gradient in the middle of an atlas of holes (black)."""
    rows, cols = np.mgrid[0:size, 0:size]
    known = (rows - size / 2) ** 2 + (cols - size / 2) ** 2 < (size / 5) ** 2
    image = np.stack([rows * 255 // size, cols * 255 // size, np.full_like(rows, 128)], axis=-1).astype(np.uint8)
    image[~known] = 0
    return image, known


def _distance(known: np.ndarray) -> np.ndarray:
    return cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, 3)


def test_the_texels_beside_what_is_known_are_filled_as_the_whole_atlas_inpainting_fills_them() -> None:
    image, known = _disk()
    whole = cv2.inpaint(image, np.where(known, 0, 255).astype(np.uint8), 3, cv2.INPAINT_NS)
    filled = inpaint(image, known)
    assert (filled[known] == image[known]).all()
    beside = ~known & (_distance(known) <= 2)   # what a bilinear read at a chart's edge takes
    assert np.abs(filled[beside].astype(int) - whole[beside]).max() <= 2


def test_the_far_gutter_takes_the_colours_of_what_is_known() -> None:
    image, known = _disk()
    far = _distance(known) > NEAR_TEXELS
    assert far.mean() > 0.5
    filled = inpaint(image, known)
    for channel in range(3):
        seen = image[..., channel][known]
        assert seen.min() - 1 <= filled[..., channel][far].min() and filled[..., channel][far].max() <= seen.max() + 1
    uniform = np.where(known[..., None], np.uint8(200), np.uint8(0)).repeat(3, axis=-1)
    assert (np.abs(inpaint(uniform, known).astype(int) - 200) <= 1).all()   # never black, never another colour


def test_an_atlas_too_small_for_a_coarser_one_is_inpainted_whole() -> None:
    image, known = _disk(24)
    whole = cv2.inpaint(image, np.where(known, 0, 255).astype(np.uint8), 3, cv2.INPAINT_NS)
    assert (inpaint(image, known) == whole).all()
