"""The named object's cut-out: the crop's matte limited to what belongs to that object.

A crop is the detection box grown by a margin, because matting needs context around an object
to find its outline. But the matting model cuts out every salient thing it sees, so a neighbour that
reaches into the margin would be cut out too and become part of the mesh. The cut-out keeps
the matte only inside the detection box, plus a thin tolerance band (grounding boxes can be a
pixel or two tight, and the object's own edge must survive), fading to nothing over a feather
band so the cut is soft where it crosses the object. The source's own alpha, when it has
one, is an upper bound as well; and where everything it keeps in a crop lies in the target's box
(one object, cut out by the artist), it is the cut-out itself, as a view's own alpha is
(``own_alpha_cutout``): matting could only lose what the artist drew.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]

# Beyond each edge of the box, as fractions of the box's longer side (each at least 1 pixel):
# the matte is kept as it is over BOX_TOLERANCE, then fades linearly to zero over BOX_FEATHER.
# A neighbour touching the box can keep a sliver this wide, mostly semi-transparent.
BOX_TOLERANCE = 0.01
BOX_FEATHER = 0.02
# The share of a crop's solid pixels (alpha over one half) that may lie past the box's bands while the
# alpha still holds that one object alone: a stray speck or a soft edge, not a neighbour.
OWN_ALPHA_OUTSIDE = 0.005


def box_in_crop(box: Box, rect: tuple[int, int, int, int]) -> Box:
    """``box`` (image pixels) in the pixels of the crop ``rect`` = (x0, y0, x1, y1) of that image."""
    x0, y0 = rect[0], rect[1]
    return (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)


def named_cutout(matted: Image.Image, crop: Image.Image, box: Box) -> Image.Image:
    """The RGBA cut-out of the object in ``box`` (crop pixels) from the crop's matte ``matted``."""
    alpha = np.asarray(matted.getchannel("A"), dtype=np.float32) * box_weights(matted.size, box)
    if crop.mode == "RGBA":
        # With names, a scene's own alpha separates the scene from the background, not one part
        # from its neighbours: it limits the matte, it does not replace it.
        alpha = np.minimum(alpha, np.asarray(crop.getchannel("A"), dtype=np.float32))
    cutout = matted.copy()
    cutout.putalpha(Image.fromarray((alpha + 0.5).clip(0, 255).astype(np.uint8), "L"))
    return cutout


def box_weights(size: tuple[int, int], box: Box) -> np.ndarray:
    """Per-pixel weights [height, width]: 1 in the box and its tolerance band, fading to 0 beyond."""
    width, height = size
    x0, y0, x1, y1 = box
    longer = max(x1 - x0, y1 - y0)
    tolerance = max(1.0, BOX_TOLERANCE * longer)
    feather = max(1.0, BOX_FEATHER * longer)
    # How far each pixel's centre lies outside the box, per axis (0 inside).
    xs = np.arange(width, dtype=np.float32) + 0.5
    ys = np.arange(height, dtype=np.float32) + 0.5
    outside_x = np.maximum(np.maximum(x0 - xs, xs - x1), 0.0)
    outside_y = np.maximum(np.maximum(y0 - ys, ys - y1), 0.0)
    distance = np.maximum(outside_x[None, :], outside_y[:, None])
    return np.clip(1.0 - (distance - tolerance) / feather, 0.0, 1.0)


def own_alpha_cutout(crop: Image.Image, box: Box) -> Image.Image | None:
    """The cut-out the crop's own alpha makes of the object in ``box`` (crop pixels) when that alpha holds
    that object alone (see the module's docstring); None when the crop has no alpha, or its alpha holds
    more than the box does (a scene cut from its background: matting separates its objects)."""
    if crop.mode != "RGBA":
        return None
    solid = np.asarray(crop.getchannel("A")) > 127
    count = int(solid.sum())
    if count == 0:
        return None
    outside = int((solid & (box_weights(crop.size, box) == 0.0)).sum())
    return named_cutout(crop, crop, box) if outside <= OWN_ALPHA_OUTSIDE * count else None
