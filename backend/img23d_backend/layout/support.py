"""An object that rests on another stands on its mesh: once every mesh is placed, one whose foot rests on another
target (its foot raised, and what lies right under its matte in the picture is that target) is stood on the top of
that target's placed mesh under its own footprint.

Its seen foot is not always where it stands: a camera looking up at a roof sees a chimney rise from behind the
roof's slope, so the chimney's lowest seen row is above its foot, and it floated 10 cm over the roof. The top of
the roof's placed mesh under the chimney's footprint is where it stands. The new base is recorded in the object's
depth entry (``img23d_protocol.layout_floor.RESTS_KEY``), which the protocol's layout reads as where it stands, so
Re-layout, Import Run and a print stand it there too. An object is only settled within ``REACH`` of its own height
of where its seen foot put it: further, the two do not meet (a lamp behind a box is hidden by it, not on it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

import numpy as np
from img23d_protocol.layout import SceneLayout
from img23d_protocol.layout_floor import RESTS_KEY, Heights

from .standing import MeshSurface

REACH = 0.5   # of the object's own height: how far its base may move to meet what it rests on


def settle(layout: SceneLayout, records: Iterable[Any], surfaces: dict[str, MeshSurface], under: dict[str, str]
           ) -> list[str]:
    """Stand each raised object on the placed mesh (``surfaces``, by stem) of the target under its foot
    (``under``); its record's depth entry and placement follow, and ``layout``'s anchor. The lowest bases first, so
    a stack settles from the bottom. Returns the stems moved."""
    moved = []
    by_stem = {record.stem: record for record in records if record.stem in surfaces and record.stem in layout.anchors}
    for stem in sorted(by_stem, key=lambda s: _base(by_stem[s])):
        record, support = by_stem[stem], under.get(stem)
        heights = Heights.of(record.depth)
        if heights is None or heights.base == 0.0 or support not in by_stem:
            continue
        mine, _ = surfaces[stem].world(layout.place(stem, surfaces[stem].extents))
        below, _ = surfaces[support].world(layout.place(support, surfaces[support].extents))
        top = _top_under(mine, below)
        if top is None or abs(top - heights.base) > REACH * max(heights.top - heights.base, 1e-3):
            continue
        record.depth = {**record.depth, RESTS_KEY: round(top, 4)}
        rests = Heights.of(record.depth)
        anchor = layout.anchors[stem]
        layout.anchors[stem] = replace(anchor, contact=(anchor.contact[0], anchor.contact[1], rests.base),
                                       height=rests.height)
        extents = surfaces[stem].extents
        record.placement = {**layout.place(stem, extents).to_dict(), "extents": list(extents)}
        moved.append(stem)
    return moved


def _base(record: Any) -> float:
    heights = Heights.of(record.depth)
    return heights.base if heights is not None else 0.0


def _top_under(points: np.ndarray, support: np.ndarray) -> float | None:
    """The highest point of ``support`` within the footprint (x, y bounds) of ``points``; None when none is."""
    (x0, y0), (x1, y1) = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    inside = (support[:, 0] >= x0) & (support[:, 0] <= x1) & (support[:, 1] >= y0) & (support[:, 1] <= y1)
    return float(support[inside, 2].max()) if inside.any() else None
