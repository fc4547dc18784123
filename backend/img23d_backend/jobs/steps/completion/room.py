"""Room for the hidden part: the crop a covered target is completed in, grown toward what covers it.

The crop is the target's box and a margin, so a part hidden behind something in front stops at the
crop's edge: a chair behind a table has its legs below its box, behind the table, and the editor
given the box alone cannot draw them. Where what stands in front of the target (its pixels in the
target's crop, ``covering.in_front``) runs into an edge of the crop on at least ``EDGE_SHARE`` of it,
the crop grows on that side: up to that occluder's box and the margin past it (nothing of the target
can reach past the one in front without being seen), at most the target box's length on that axis,
and never past the picture. Other sides stay as they are.

Rectangles are in the pixels of the picture the crops were cut from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from .covering import Seen, in_front
from .occlusion import EDGE_SHARE, SIDES

Rect = tuple[int, int, int, int]


@dataclass(frozen=True)
class Room:
    """The crop to complete a target in (``rect``), and the sides it grew on (none: its own crop)."""

    rect: Rect
    grown: tuple[str, ...] = ()


def room(target: Seen, hiders: Sequence[Seen], picture: np.ndarray, margin: float) -> Room:
    """The crop ``target`` is completed in: its own, grown on each side where one of ``hiders`` (the
    detections in front of it) runs into that edge of the crop. ``picture``: RGB [height, width, 3];
    ``margin``: the job's crop margin (a share of the box's longer side)."""
    if target.rect is None or target.alpha is None:
        raise ValueError(f"{target.name!r} has no crop to grow")
    x0, y0, x1, y1 = target.rect
    height, width = picture.shape[:2]
    bx0, by0, bx1, by1 = target.box
    pad = margin * max(bx2 - bx for bx, bx2 in ((bx0, bx1), (by0, by1)))
    reach = {"left": x0, "top": y0, "right": x1, "bottom": y1}
    for other in hiders:
        held = in_front(target, other, picture)
        if held is None or not held.any():
            continue
        ox0, oy0, ox1, oy1 = other.box
        edges = {"left": (held[:, 0], x0 > 0, max(0, int(np.floor(min(ox0 - pad, x0)))),
                          int(np.floor(x0 - (bx1 - bx0)))),
                 "top": (held[0, :], y0 > 0, max(0, int(np.floor(min(oy0 - pad, y0)))),
                         int(np.floor(y0 - (by1 - by0)))),
                 "right": (held[:, -1], x1 < width, min(width, int(np.ceil(max(ox1 + pad, x1)))),
                           int(np.ceil(x1 + (bx1 - bx0)))),
                 "bottom": (held[-1, :], y1 < height, min(height, int(np.ceil(max(oy1 + pad, y1)))),
                            int(np.ceil(y1 + (by1 - by0))))}
        for side, (line, open_side, to_occluder, longest) in edges.items():
            if not open_side or line.mean() < EDGE_SHARE:
                continue
            grown = max(to_occluder, longest) if side in ("left", "top") else min(to_occluder, longest)
            reach[side] = min(reach[side], grown) if side in ("left", "top") else max(reach[side], grown)
    rect = (reach["left"], reach["top"], reach["right"], reach["bottom"])
    return Room(rect, tuple(side for side, was in zip(SIDES, target.rect) if reach[side] != was))


def widen(picture: Image.Image, old: Rect, new: Rect, fill: int = 0) -> Image.Image:
    """``picture`` (over ``old``) placed in ``new`` (which holds it), ``fill`` around it: transparent
    for a cut-out, nothing for a mask."""
    if old == new:
        return picture
    out = Image.new(picture.mode, (new[2] - new[0], new[3] - new[1]), fill)
    out.paste(picture, (old[0] - new[0], old[1] - new[1]))
    return out


def widen_mask(mask: np.ndarray | None, old: Rect, new: Rect) -> np.ndarray | None:
    """A crop's boolean mask placed in the grown crop, False around it."""
    if mask is None or old == new:
        return mask
    out = np.zeros((new[3] - new[1], new[2] - new[0]), dtype=bool)
    out[old[1] - new[1]:old[3] - new[1], old[0] - new[0]:old[2] - new[0]] = mask
    return out
