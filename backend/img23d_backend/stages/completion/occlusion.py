"""Whether a target looks hidden by something in front of it (``complete_hidden`` "auto"), and why.

Two signs, either enough:

- **Its box overlaps another detection's box.** Overlap is the intersection's area over the
  *smaller* box's area, at least ``OVERLAP_SHARE``. Over the smaller box, not over the union (IoU):
  a cup standing in front of a table covers all of itself and a sliver of the table, an IoU of a
  few per cent, yet the two clearly overlap. Boxes alone cannot say which of the two is in front,
  so both read as hidden; completing the one in front costs time, not its look (its visible pixels
  are pasted back). Grounding's boxes are a little loose, so neighbours standing side by side
  often share a sliver: ``OVERLAP_SHARE`` is set above such a sliver.
- **Its matte runs into its box's edge.** BiRefNet mattes the crop (the box grown by a margin), so
  it sees past the box. Where the matte is foreground both just inside one edge of the box and
  well outside it (beyond the band the cut-out keeps, ``cutout.BOX_TOLERANCE + BOX_FEATHER``),
  something salient crosses that edge: the object goes on past its box, or something in front of it
  does. A box that fits its object, even a boxy object that fills it, has background outside.
  An edge of the box on the picture's border cannot be judged (nothing lies beyond it) and is
  never a sign; the crop stops there, so the line outside falls outside the crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..cutout import BOX_FEATHER, BOX_TOLERANCE

Box = tuple[float, float, float, float]

# Overlap (intersection over the smaller box) from which a neighbour counts as covering: 10 %,
# above the few per cent loose boxes of neighbours side by side share.
OVERLAP_SHARE = 0.10
# The part of a box edge's length the matte must cross for that edge to count: a tenth, so the
# tip of a handle or a stray pixel of a neighbour does not make an object hidden.
EDGE_SHARE = 0.10
FOREGROUND = 128  # alpha from which a pixel is the object's
SIDES = ("left", "top", "right", "bottom")


@dataclass(frozen=True)
class Neighbour:
    """Another detection of the same picture: its name and box (pixels of the picture)."""

    name: str
    box: Box


@dataclass(frozen=True)
class Decision:
    """Whether to complete one target, and the reason the manifest keeps ("overlaps 'table'")."""

    complete: bool
    reason: str


def overlap_share(a: Box, b: Box) -> float:
    """The area the boxes share over the smaller box's area (0 when either has none)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    if width <= 0 or height <= 0 or smaller <= 0:
        return 0.0
    return width * height / smaller


def overlapping(box: Box, neighbours: Sequence[Neighbour]) -> str | None:
    """"overlaps 'table'" (every overlapping name once, the most overlapping first), or None."""
    shares = sorted(((overlap_share(box, n.box), n.name) for n in neighbours), key=lambda pair: -pair[0])
    names = list(dict.fromkeys(name for share, name in shares if share >= OVERLAP_SHARE))
    if not names:
        return None
    return "overlaps " + ", ".join(repr(name) for name in names)


def matte_crossing(alpha: np.ndarray, box: Box) -> str | None:
    """"the matte runs into the box's left edge" (each side where it does), or None.

    ``alpha``: the crop's matte [height, width], 0..255, before the cut-out keeps the box alone;
    ``box``: the target's box in the crop's pixels."""
    height, width = alpha.shape
    x0, y0, x1, y1 = box
    outside = max(2, int(np.ceil((BOX_TOLERANCE + BOX_FEATHER) * max(x1 - x0, y1 - y0))) + 1)
    cols = slice(max(0, int(x0)), min(width, int(np.ceil(x1))))
    rows = slice(max(0, int(y0)), min(height, int(np.ceil(y1))))
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
        beyond = alpha[span, outer] if vertical else alpha[outer, span]
        if inside.size and np.mean((inside >= FOREGROUND) & (beyond >= FOREGROUND)) >= EDGE_SHARE:
            crossed.append(side)
    if not crossed:
        return None
    sides = " and ".join(crossed)
    return f"the matte runs into the box's {sides} edge{'s' if len(crossed) > 1 else ''}"


def decide(mode: str, box: Box, neighbours: Sequence[Neighbour], alpha: np.ndarray | None, box_in_crop: Box,
           turned_off: bool = False) -> Decision:
    """Whether a target is completed under ``mode`` ("auto", "always", "never"), and why.

    ``box``: its box in the picture; ``neighbours``: the other detections (its own other candidates
    left out: they share its box); ``alpha``: its crop's matte, None when it had none (an RGBA
    picture's own alpha); ``turned_off``: the artist turned completion off for its name."""
    if mode == "never":
        return Decision(False, "completion is off for this job")
    if turned_off:
        return Decision(False, "the artist turned completion off for it")
    if mode == "always":
        return Decision(True, "asked for every target")
    covered = overlapping(box, neighbours)
    if covered:
        return Decision(True, covered)
    crossing = matte_crossing(alpha, box_in_crop) if alpha is not None else None
    if crossing:
        return Decision(True, crossing)
    return Decision(False, "nothing overlaps its box and its matte stays inside it")
