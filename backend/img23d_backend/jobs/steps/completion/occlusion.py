"""Whether a target looks hidden by something in front of it (``complete_hidden`` "auto"), and why.

Two signs, either enough:

- **Another detection covers it.** Their boxes overlap by at least ``OVERLAP_SHARE`` of the smaller
  box (over the smaller box, not the union: a cup in front of a table covers all of itself and a
  sliver of the table, an IoU of a few per cent; grounding's boxes are a little loose, so neighbours
  standing side by side often share a sliver, and ``OVERLAP_SHARE`` is set above one), and in the
  shared area the other's matte holds clearly more than the target's own (``covering``): the one in
  front is what the picture shows there. Only the one behind is completed.
- **Its matte runs into its box's edge.** The matting model mattes the crop (the box grown by a margin), so
  it sees past the box. Where the matte is foreground both just inside one edge of the box and
  well outside it (beyond the band the cut-out keeps, ``cutout.BOX_TOLERANCE + BOX_FEATHER``),
  something salient crosses that edge: the object goes on past its box, or something in front of it
  does. A box that fits its object, even a boxy object that fills it, has background outside.
  Outside pixels inside another detection's box do not count: that is the neighbour, which the matting model
  mattes too, and the first sign judges the pair. An edge of the box on the picture's border cannot
  be judged (nothing lies beyond it) and is never a sign; the crop stops there, so the line outside
  falls outside the crop.

A target completed while another detection covers it also gets the pixels of its crop that the
ones in front hold (``Decision.in_front``, from ``covering.in_front``), so completion can leave them
out of what it pastes back and keeps: they are the object in front, not the target.

Boxes, rectangles and mattes are in the pixels of the picture the crops were cut from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..cutout import BOX_FEATHER, BOX_TOLERANCE
from .covering import FOREGROUND, Seen, covered_pixels, in_front

Box = tuple[float, float, float, float]

# Overlap (intersection over the smaller box) from which a neighbour may cover a target: 10 %,
# above the few per cent loose boxes of neighbours side by side share.
OVERLAP_SHARE = 0.10
# The part of a box edge's length the matte must cross for that edge to count: a tenth, so the
# tip of a handle or a stray pixel of a neighbour does not make an object hidden.
EDGE_SHARE = 0.10
SIDES = ("left", "top", "right", "bottom")


@dataclass(frozen=True)
class Decision:
    """Whether to complete one target, and the reason the manifest keeps ("covered by 'table'").

    ``in_front``: when it is completed and other detections cover it, the pixels of its crop they
    hold (booleans, its matte's shape); None when nothing named covers it; ``hiders``: those
    detections, the one hiding most first (the instruction names them, and the crop grows toward
    them: ``room``). Left out of equality: two decisions are the same choice for the same reason."""

    complete: bool
    reason: str
    in_front: np.ndarray | None = field(default=None, compare=False, repr=False)
    hiders: tuple[Seen, ...] = field(default=(), compare=False, repr=False)


def overlap_share(a: Box, b: Box) -> float:
    """The area the boxes share over the smaller box's area (0 when either has none)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    if width <= 0 or height <= 0 or smaller <= 0:
        return 0.0
    return width * height / smaller


def covered_by(target: Seen, others: Sequence[Seen], picture: np.ndarray | None) -> str | None:
    """"covered by 'table'" (every covering name once, the one hiding most first), or None."""
    hiders = covering_detections(target, others, picture)
    return _covered_reason(hiders) if hiders else None


def _covered_reason(hiders: Sequence[Seen]) -> str:
    return "covered by " + ", ".join(repr(name) for name in dict.fromkeys(other.name for other in hiders))


def covering_detections(target: Seen, others: Sequence[Seen], picture: np.ndarray | None) -> list[Seen]:
    """The detections that cover ``target``, the one hiding most first."""
    hiding = [(covered_pixels(target, other, picture), other) for other in others
              if overlap_share(target.box, other.box) >= OVERLAP_SHARE]
    return [other for pixels, other in sorted(hiding, key=lambda pair: -pair[0]) if pixels > 0]


def held_in_front(target: Seen, hiders: Sequence[Seen], picture: np.ndarray | None) -> np.ndarray | None:
    """The pixels of ``target``'s crop that any of ``hiders`` holds (None when none hides it, or
    it has no matte)."""
    masks = [in_front(target, other, picture) for other in hiders]
    masks = [mask for mask in masks if mask is not None]
    return np.logical_or.reduce(masks) if masks else None


def matte_crossing(alpha: np.ndarray, box: Box, explained: np.ndarray | None = None) -> str | None:
    """"the matte runs into the box's left edge" (each side where it does), or None.

    ``alpha``: the crop's matte [height, width], 0..255, before the cut-out keeps the box alone;
    ``box``: the target's box in the crop's pixels; ``explained``: the crop's pixels another
    detection's box holds (booleans, the matte's shape), which do not count outside the box."""
    height, width = alpha.shape
    x0, y0, x1, y1 = box
    outside = max(2, int(np.ceil((BOX_TOLERANCE + BOX_FEATHER) * max(x1 - x0, y1 - y0))) + 1)
    cols = slice(max(0, int(x0)), min(width, int(np.ceil(x1))))
    rows = slice(max(0, int(y0)), min(height, int(np.ceil(y1))))
    beyond_ok = alpha >= FOREGROUND if explained is None else (alpha >= FOREGROUND) & ~explained
    # (inside line, outside line) of each side: a column or row of the matte, along the box's span.
    lines = {
        "left": (int(x0), int(x0) - outside, rows, True),
        "top": (int(y0), int(y0) - outside, cols, False),
        "right": (int(np.ceil(x1)) - 1, int(np.ceil(x1)) - 1 + outside, rows, True),
        "bottom": (int(np.ceil(y1)) - 1, int(np.ceil(y1)) - 1 + outside, cols, False),
    }
    crossed = []
    for side in SIDES:
        inner, outer, span, vertical = lines[side]
        limit = width if vertical else height
        if not (0 <= inner < limit and 0 <= outer < limit):
            continue  # the crop ends there: the picture's border, or no margin to look into
        inside = alpha[span, inner] if vertical else alpha[inner, span]
        beyond = beyond_ok[span, outer] if vertical else beyond_ok[outer, span]
        if inside.size and np.mean((inside >= FOREGROUND) & beyond) >= EDGE_SHARE:
            crossed.append(side)
    if not crossed:
        return None
    sides = " and ".join(crossed)
    return f"the matte runs into the box's {sides} edge{'s' if len(crossed) > 1 else ''}"


def neighbours_in_crop(target: Seen, others: Sequence[Seen]) -> np.ndarray | None:
    """The pixels of ``target``'s crop that another detection's box holds (None without a crop)."""
    if target.rect is None or target.alpha is None:
        return None
    held = np.zeros(target.alpha.shape, dtype=bool)
    for other in others:
        x0, y0, x1, y1 = (int(round(v)) - target.rect[i % 2] for i, v in enumerate(other.box))
        held[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    return held


def decide(mode: str, target: Seen, others: Sequence[Seen], picture: np.ndarray | None = None,
           turned_off: bool = False) -> Decision:
    """Whether a target is completed under ``mode`` ("auto", "always", "never"), and why.

    ``target``: its box, and its crop's rectangle and matte when it was matted (an RGBA picture's own
    alpha is none); ``others``: the job's other detections (its own other candidates left out: they
    share its box); ``picture``: the picture's RGB pixels, which settle pixels two mattes both claim;
    ``turned_off``: the artist turned completion off for its name."""
    if mode == "never":
        return Decision(False, "completion is off for this job")
    if turned_off:
        return Decision(False, "the artist turned completion off for it")
    hiders = covering_detections(target, others, picture)
    # "always" completes a covered target too: the one in front must not be pasted back there either.
    if mode == "always":
        return Decision(True, "asked for every target", held_in_front(target, hiders, picture), tuple(hiders))
    if hiders:
        return Decision(True, _covered_reason(hiders), held_in_front(target, hiders, picture), tuple(hiders))
    crossing = None
    if target.rect is not None and target.alpha is not None:
        x, y = target.rect[0], target.rect[1]
        in_crop = (target.box[0] - x, target.box[1] - y, target.box[2] - x, target.box[3] - y)
        crossing = matte_crossing(target.alpha, in_crop, neighbours_in_crop(target, others))
    if crossing:
        return Decision(True, crossing)
    return Decision(False, "nothing covers it and its matte stays inside its box")
