"""From each render's boxes to its masks: a box is cropped with a margin (as Generate crops a target),
the matting model cuts the crop out, and the cut-out's alpha goes back where the crop came from.

The models are called by the split's driver (``driver.py``); this module only places things: which
crop each (render, name) gets, and the (N, size, size) masks the lifting reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ...stages.crop import crop_box
from .renders import PartView

Box = tuple[float, float, float, float]
CROP_MARGIN = 0.1     # as Generate's crops: the matting model needs some background round the part
MIN_CROP = 32         # a crop of a far-away part is at least this many pixels a side


@dataclass(frozen=True)
class CropJob:
    """One name's crop of one render: ``view`` and ``name`` index the renders and names."""

    view: int
    name: int
    rect: tuple[int, int, int, int]   # (x0, y0, x1, y1) in the render's pixels
    picture: Image.Image


def crops_for(views: list[PartView], boxes: list[list[Box | None]]) -> list[CropJob]:
    """A crop per (render, name) with a box; ``boxes[v][n]`` is name n's box on render v, or None."""
    jobs = []
    for v, (view, row) in enumerate(zip(views, boxes)):
        for n, box in enumerate(row):
            if box is None:
                continue
            rect = crop_box(box, view.picture.size, margin=CROP_MARGIN, min_size=MIN_CROP)
            jobs.append(CropJob(v, n, rect, view.picture.crop(rect)))
    return jobs


def masks_from_cutouts(views: list[PartView], names: int, crops: list[CropJob],
                       cutouts: list[Image.Image | None]) -> list[np.ndarray]:
    """Per render, (``names``, size, size) masks in 0..1: each cut-out's alpha where its crop came
    from (None: the matting failed for that crop, which then votes nothing), zero elsewhere and off
    the mesh (a matte may spill onto the white background around it)."""
    masks = [np.zeros((names, *view.raster.face.shape), dtype=np.float64) for view in views]
    for crop, cutout in zip(crops, cutouts):
        if cutout is None:
            continue
        x0, y0, x1, y1 = crop.rect
        alpha = np.asarray(cutout.getchannel("A").resize((x1 - x0, y1 - y0)), dtype=np.float64) / 255.0
        masks[crop.view][crop.name, y0:y1, x0:x1] = np.maximum(masks[crop.view][crop.name, y0:y1, x0:x1], alpha)
    for view, mask in zip(views, masks):
        mask *= view.raster.mask
    return masks

