"""Each target's own points in a metric map, read against the floor measured there (``floor_points``): how high its
visible top and bottom stand, and whether the top and bottom edges of its matte are its own
(``img23d_protocol.layout_floor.Heights``, recorded beside its depth statistic so that a later layout reads them).

An edge is read column by column over the matte, in the columns that reach its extreme (its head's columns, whose
top row is within ``EDGE_ROWS`` of its highest; its foot's, the same at its lowest): a lamp's wide shade says
nothing about where its thin pole ends. Its top edge is its own unless the pixel above is the picture's edge or
another target nearer the camera (a shelf in front of a lamp's shade). Its bottom edge is its own unless the pixel
below is the picture's edge or another target whose surface there stands higher than the object's own lowest
point in that column (a box before a lamp hides the lamp's base; a table under a box is no higher than the box's
bottom, so the box rests on it), nor where the background right under it lies well below its lowest point (a
ball seen from above hides its foot under its own bulge). Most of those columns decide (``SEEN_SHARE``). The top
is the highest of its columns' tops, each the median of ``TOP_COLUMNS`` neighbouring columns': a roof's ridge or a
ball's crown is a sliver of the object's points (a percentile of them all put a house's roof 0.6 m low), but the
columns' tops trace its outline, and one stray column moves nothing. The bottom is the median of its foot's
columns' lowest points (a tree's thin trunk is a sliver of its points).
"""

from __future__ import annotations

import math

import numpy as np
from img23d_protocol.layout_floor import Heights

from ..depth.driver import MATTE_THRESHOLD
from .floor_points import MeasuredFloor

TOP_COLUMNS = 5                # neighbouring columns whose tops' median is one column's top
SEEN_SHARE = 0.6               # the share of an edge's columns that must be the object's own
EDGE_ROWS, EDGE_SHARE = 3, 0.05   # rows (or this share of the matte's height) from its extreme: its head and foot
STEP_M, STEP_SHARE = 0.03, 0.01   # how much higher than its own bottom what lies below must be to hide it
MIN_PIXELS = 16


def labels_of(shape: tuple[int, int], mattes: list[tuple[int, np.ndarray, tuple[int, int, int, int], float]]
              ) -> np.ndarray:
    """Each pixel's target (its index + 1; 0: none) from (index, matte alpha, its rectangle, distance), the nearer
    target winning where two mattes cover a pixel (it is in front); 0 is the background, where the floor is."""
    labels = np.zeros(shape, dtype=np.int32)
    for index, alpha, (x0, y0, x1, y1), _ in sorted(mattes, key=lambda matte: -matte[3]):
        region = labels[y0:y1, x0:x1]
        region[alpha >= MATTE_THRESHOLD] = index + 1
    return labels


def heights_of(points: np.ndarray, labels: np.ndarray, label: int, floor: MeasuredFloor) -> Heights | None:
    """The target ``label``'s heights against ``floor`` (``points``: the metric map, camera frame), or None where
    too few of its pixels have a surface."""
    mine = (labels == label) & np.isfinite(points).all(axis=-1)
    if int(mine.sum()) < MIN_PIXELS:
        return None
    above = _height_above(points, floor)
    top_seen = _top_seen(points, labels, label)
    bottom_seen, bottom = _bottom_seen(points, labels, label, above)
    if bottom is None:
        return None
    top = _top(above, mine)
    if top is None:
        return None
    return Heights(round(top, 4), round(bottom, 4), top_seen, bottom_seen)


def under_foot(labels: np.ndarray, label: int) -> int | None:
    """The target (its label) right under the foot of target ``label``'s matte in most of its foot's columns
    (``SEEN_SHARE``): what it may rest on; None where that is the floor, the picture's edge or no one target."""
    columns, _, bottom, reach = _columns(labels, label)
    if len(columns) == 0:
        return None
    foot = bottom >= bottom.max() - reach
    below = labels[np.clip(bottom[foot] + 1, 0, labels.shape[0] - 1), columns[foot]]
    below = below[(below != 0) & (below != label) & (bottom[foot] < labels.shape[0] - 1)]
    if len(below) == 0:
        return None
    values, counts = np.unique(below, return_counts=True)
    best = int(np.argmax(counts))
    return int(values[best]) if counts[best] >= SEEN_SHARE * int(foot.sum()) else None


def _height_above(points: np.ndarray, floor: MeasuredFloor) -> np.ndarray:
    """Each point's height above the floor (the plane cos(pitch) y + sin(pitch) z = elevation, y down)."""
    s, c = math.sin(floor.pitch), math.cos(floor.pitch)
    return floor.elevation - (c * points[..., 1] + s * points[..., 2])


def _top(above: np.ndarray, mine: np.ndarray) -> float | None:
    """The highest of its columns' tops, each the median of its neighbours' (None: no column has a surface
    there)."""
    columns = np.flatnonzero(mine.any(axis=0))
    rows = np.arange(mine.shape[0])[:, None]
    first = np.where(mine, rows, mine.shape[0]).min(axis=0)[columns]
    tops = above[first, columns]
    tops = tops[np.isfinite(tops)]
    if len(tops) == 0:
        return None
    if len(tops) < TOP_COLUMNS:
        return float(np.median(tops))
    return float(np.median(np.lib.stride_tricks.sliding_window_view(tops, TOP_COLUMNS), axis=1).max())


def _columns(labels: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The matte's columns, the top and bottom row of each, and how many rows from an extreme are its edge."""
    mask = labels == label
    columns = np.flatnonzero(mask.any(axis=0))
    rows = np.arange(mask.shape[0])[:, None]
    top = np.where(mask, rows, mask.shape[0]).min(axis=0)[columns]
    bottom = np.where(mask, rows, -1).max(axis=0)[columns]
    span = float(bottom.max() - top.min() + 1) if len(columns) else 0.0
    return columns, top, bottom, max(EDGE_ROWS, EDGE_SHARE * span)


def _top_seen(points: np.ndarray, labels: np.ndarray, label: int) -> bool:
    columns, top, _, reach = _columns(labels, label)
    if len(columns) == 0:
        return False
    head = top <= top.min() + reach
    columns, top = columns[head], top[head]
    above = np.clip(top - 1, 0, None)
    neighbour = labels[above, columns]
    nearer = (neighbour != 0) & (neighbour != label) & \
        (np.nan_to_num(points[above, columns, 2], nan=np.inf) < points[top, columns, 2])
    own = (top > 0) & ~nearer
    return float(own.mean()) >= SEEN_SHARE


def _bottom_seen(points: np.ndarray, labels: np.ndarray, label: int, above: np.ndarray
                 ) -> tuple[bool, float | None]:
    """Whether its foot is its own, and the height of its lowest points there (None: no surface under them)."""
    columns, _, bottom, reach = _columns(labels, label)
    if len(columns) == 0:
        return False, None
    foot = bottom >= bottom.max() - reach
    columns, bottom = columns[foot], bottom[foot]
    last = labels.shape[0] - 1
    below = np.clip(bottom + 1, 0, last)
    neighbour = labels[below, columns]
    own_low = above[bottom, columns]
    step = STEP_M + STEP_SHARE * np.abs(points[bottom, columns, 2])
    under = np.nan_to_num(above[below, columns], nan=-np.inf)
    higher = (neighbour != 0) & (neighbour != label) & (under > own_low + step)
    # The background right under it, well below its lowest seen point: its bottom curves away out of sight (a ball
    # seen from above hides where it touches the floor under its own bulge), so its seen bottom is not its foot.
    curving = (neighbour == 0) & (under < own_low - step)
    own = (bottom < last) & ~higher & ~curving
    lowest = own_low[np.isfinite(own_low)]
    return float(own.mean()) >= SEEN_SHARE, float(np.median(lowest)) if len(lowest) else None
