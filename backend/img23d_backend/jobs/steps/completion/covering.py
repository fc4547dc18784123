"""Which of two overlapping detections stands in front, from their mattes placed in the picture.

Where two boxes overlap, the object in front is what the picture shows there: its matte is
foreground in the shared area, and the matte of the one behind is background where the one in front
hides it. So a target is *covered* by another when, in the two boxes' intersection, the other holds
clearly more of the pixels than the target does.

The matting model mattes every salient thing in its crop, so a crop that reaches into a neighbour often mattes
the neighbour too, and both mattes claim the same pixels. A pixel claimed by both goes to the one of
the two whose colour it has (each object's colour read where the other's box cannot be, or, for one
whose box lies wholly inside the other's, over its own matte); a pixel that looks like neither goes,
where one box lies wholly inside the other's (``nested``), to the inner one: a cup standing in front
of a sofa, inside the sofa's box, is in the sofa's matte too, and the sofa's matte cannot tell it from
the sofa. Otherwise it abstains: two objects of one colour side by side whose mattes both take in
the other cannot be told apart, and neither is covered by the other (the matte-edge rule of
``occlusion`` may still judge them).

The same split says which pixels of a covered target's crop the one in front holds
(``in_front``): the matting model cuts that object out too where it lies in the target's box, and completion
must not paste it back as if it were the target.

Everything here is in the pixels of the picture the crops were cut from; a matte is the crop's
matte over the whole crop (margin included), placed at the crop's rectangle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cutout import BOX_FEATHER, BOX_TOLERANCE

Box = tuple[float, float, float, float]
Rect = tuple[int, int, int, int]

FOREGROUND = 128  # alpha from which a matte's pixel is its object's
# The covering one must hold at least this share of the boxes' intersection: a few pixels of an
# object's edge in a loose box's corner say nothing about which is in front.
COVER_SHARE = 0.25
# ...and this many times what the covered one holds there ("clearly more"): where both objects show
# part of the shared area (a cup's rim against the table behind it), neither covers the other unless
# one clearly dominates; a wrong "covered" costs an editor run, a missed one a bite in a mesh.
COVER_RATIO = 1.5
# A pixel both mattes claim goes to the object whose colour is nearer, if it is nearer by this ratio
# of distances (else it abstains): the two colours are means, and a shaded object spreads around its.
COLOUR_RATIO = 0.75


@dataclass(frozen=True)
class Seen:
    """One detection as the job saw it: its name and box (picture pixels), and, when it was matted, its
    crop's rectangle in the picture and the crop's matte (alpha 0..255 [height, width], over the whole
    crop, before the cut-out kept the box alone)."""

    name: str
    box: Box
    rect: Rect | None = None
    alpha: np.ndarray | None = None

    def matted(self) -> bool:
        return self.rect is not None and self.alpha is not None

    def foreground(self, region: Rect) -> np.ndarray:
        """Where its matte is foreground over ``region`` (x0, y0, x1, y1) of the picture, as booleans
        [height, width]: False outside its crop, and everywhere when it has no matte."""
        x0, y0, x1, y1 = region
        out = np.zeros((y1 - y0, x1 - x0), dtype=bool)
        if self.rect is None or self.alpha is None:
            return out
        cx0, cy0 = self.rect[0], self.rect[1]
        height, width = self.alpha.shape
        # The part of the region inside the crop, in picture pixels.
        lx0, ly0 = max(x0, cx0), max(y0, cy0)
        lx1, ly1 = min(x1, cx0 + width), min(y1, cy0 + height)
        if lx1 > lx0 and ly1 > ly0:
            inside = self.alpha[ly0 - cy0:ly1 - cy0, lx0 - cx0:lx1 - cx0]
            out[ly0 - y0:ly1 - y0, lx0 - x0:lx1 - x0] = inside >= FOREGROUND
        return out


def pixel_rect(box: Box) -> Rect:
    """The whole pixels a box (float corners) covers, rounded to the nearest pixel edge."""
    return (int(round(box[0])), int(round(box[1])), int(round(box[2])), int(round(box[3])))


def intersection(a: Box, b: Box) -> Rect | None:
    """The pixels both boxes cover, or None when they share none."""
    ax0, ay0, ax1, ay1 = pixel_rect(a)
    bx0, by0, bx1, by1 = pixel_rect(b)
    region = (max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1))
    return region if region[2] > region[0] and region[3] > region[1] else None


def covered_pixels(target: Seen, other: Seen, picture: np.ndarray | None) -> int:
    """How many pixels of the boxes' intersection show ``other`` where ``target`` is hidden, when
    ``other`` covers ``target`` (0 when it does not, or when either has no matte to tell by).

    ``picture``: the picture's RGB [height, width, 3], to settle pixels both mattes claim (None: such
    pixels abstain)."""
    region = intersection(target.box, other.box)
    if region is None or not (target.matted() and other.matted()):
        return 0
    mine, its = _split(target, other, picture, region)
    held, holding = int(np.count_nonzero(mine)), int(np.count_nonzero(its))
    area = (region[2] - region[0]) * (region[3] - region[1])
    if holding >= COVER_SHARE * area and holding >= COVER_RATIO * held:
        return holding
    return 0


def in_front(target: Seen, other: Seen, picture: np.ndarray | None) -> np.ndarray | None:
    """The pixels of ``target``'s crop that ``other`` holds, as booleans of its matte's shape (None
    when ``target`` has no matte; all False when ``other`` has none).

    Only inside ``other``'s box and the band its own cut-out keeps past it (``kept_rect``): what
    ``other``'s matte holds beyond that is its neighbours, the target among them."""
    if target.rect is None or target.alpha is None:
        return None
    cx0, cy0 = target.rect[0], target.rect[1]
    height, width = target.alpha.shape
    ox0, oy0, ox1, oy1 = kept_rect(other.box)
    region = (max(cx0, ox0), max(cy0, oy0), min(cx0 + width, ox1), min(cy0 + height, oy1))
    out = np.zeros((height, width), dtype=bool)
    if other.matted() and region[2] > region[0] and region[3] > region[1]:
        _, its = _split(target, other, picture, region)
        out[region[1] - cy0:region[3] - cy0, region[0] - cx0:region[2] - cx0] = its
    return out


def kept_rect(box: Box) -> Rect:
    """The whole pixels a box's cut-out can keep: the box grown by the cut-out's tolerance and feather
    bands (``cutout.box_weights``)."""
    longer = max(box[2] - box[0], box[3] - box[1])
    grow = max(1.0, BOX_TOLERANCE * longer) + max(1.0, BOX_FEATHER * longer)
    return pixel_rect((box[0] - grow, box[1] - grow, box[2] + grow, box[3] + grow))


def _split(target: Seen, other: Seen, picture: np.ndarray | None,
           region: Rect) -> tuple[np.ndarray, np.ndarray]:
    """Over ``region`` (inside the picture): the pixels ``target`` holds and those ``other`` holds.
    A pixel both mattes claim goes by colour, or to neither without ``picture``."""
    own, theirs = target.foreground(region), other.foreground(region)
    mine, its = own & ~theirs, theirs & ~own
    both = own & theirs
    if both.any():
        to_target, to_other = (_by_colour(picture, region, both, target, other) if picture is not None
                               else (np.zeros_like(both), np.zeros_like(both)))
        # What colour leaves open goes to the inner of two nested boxes: it stands in front of the outer.
        undecided = both & ~to_target & ~to_other
        if nested(other.box, target.box):
            to_other = to_other | undecided
        elif nested(target.box, other.box):
            to_target = to_target | undecided
        mine, its = mine | to_target, its | to_other
    return mine, its


def nested(inner: Box, outer: Box) -> bool:
    """Whether ``inner``'s box lies wholly inside ``outer``'s (within the band ``outer``'s cut-out keeps
    past its box, for grounding's loose edges) and is the smaller of the two."""
    x0, y0, x1, y1 = pixel_rect(inner)
    ox0, oy0, ox1, oy1 = kept_rect(outer)
    smaller = (inner[2] - inner[0]) * (inner[3] - inner[1]) < (outer[2] - outer[0]) * (outer[3] - outer[1])
    return smaller and ox0 <= x0 and oy0 <= y0 and x1 <= ox1 and y1 <= oy1


def _by_colour(picture: np.ndarray, region: Rect, both: np.ndarray, target: Seen,
               other: Seen) -> tuple[np.ndarray, np.ndarray]:
    """The doubly claimed pixels that look like ``target``, and those that look like ``other``."""
    none = np.zeros_like(both)
    target_colour, other_colour = _own_colour(picture, target, other), _own_colour(picture, other, target)
    if target_colour is None or other_colour is None:
        return none, none
    x0, y0, x1, y1 = region
    pixels = picture[y0:y1, x0:x1, :3].astype(np.float32)
    to_target = np.linalg.norm(pixels - target_colour, axis=-1)
    to_other = np.linalg.norm(pixels - other_colour, axis=-1)
    return both & (to_target < COLOUR_RATIO * to_other), both & (to_other < COLOUR_RATIO * to_target)


def _own_colour(picture: np.ndarray, seen: Seen, other: Seen) -> np.ndarray | None:
    """The mean colour of ``seen``'s matte inside its own box where ``other``'s box is not: what it
    looks like where the other cannot be. For a box wholly inside ``other``'s there is no such place:
    its matte over its own box, which is mostly itself (None when nothing there is foreground)."""
    region = pixel_rect(seen.box)
    x0, y0, x1, y1 = (max(0, region[0]), max(0, region[1]), min(picture.shape[1], region[2]),
                      min(picture.shape[0], region[3]))
    if x1 <= x0 or y1 <= y0:
        return None
    whole = seen.foreground((x0, y0, x1, y1))
    mask = whole.copy()
    ox0, oy0, ox1, oy1 = pixel_rect(other.box)
    mask[max(0, oy0 - y0):max(0, oy1 - y0), max(0, ox0 - x0):max(0, ox1 - x0)] = False
    if not mask.any() and nested(seen.box, other.box):
        mask = whole
    if not mask.any():
        return None
    return picture[y0:y1, x0:x1, :3][mask].astype(np.float32).mean(axis=0)
