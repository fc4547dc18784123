"""An object that rests on another stands on its placed mesh (``layout.support``, issue 98), on ray-cast scenes
whose answer is known (``cast_scenes``): a box on a table whose seen foot reads 6 cm too high (as a chimney's, whose
foot the roof's slope hides from a camera looking up) floats unless it is settled, and settled it rests on the
table's top within a centimetre; the base is kept in its record, so the protocol's layout stands it there again;
an object on the floor, one whose foot a nearer object hides, and one too far above what is under it stay."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from img23d_protocol.layout import solve, targets_from_records
from img23d_protocol.layout_floor import RESTS_KEY, Heights

from cast_scenes import lay_out, standing_box

SIZE, FOCAL, PITCH, HEIGHT = (320, 240), 260.0, math.radians(14.0), 1.5
TABLE_TOP = 0.75


def _table_and_box() -> list:
    return [standing_box((1.2, 0.8, TABLE_TOP), (0.0, 3.2, 0.0)), standing_box((0.3, 0.3, 0.3), (0.1, 3.2, TABLE_TOP))]


def _lift(by: float):
    def adjust(records: list[SimpleNamespace]) -> None:
        records[1].depth = {**records[1].depth, "bottom_m": records[1].depth["bottom_m"] + by}
    return adjust


def test_a_box_whose_foot_reads_high_rests_on_the_tables_mesh_once_settled() -> None:
    _, _, floating = lay_out(_table_and_box(), SIZE, FOCAL, PITCH, HEIGHT, settle=False, adjust=_lift(0.06))
    assert floating[1][:, 2].min() - TABLE_TOP > 0.04                 # what the settling mends
    records, layout, settled = lay_out(_table_and_box(), SIZE, FOCAL, PITCH, HEIGHT, adjust=_lift(0.06))
    assert abs(settled[1][:, 2].min() - settled[0][:, 2].max()) < 0.01   # on the table's placed top
    assert abs(settled[1][:, 2].min() - TABLE_TOP) < 0.02
    assert records[1].depth[RESTS_KEY] == pytest.approx(settled[0][:, 2].max(), abs=1e-3)
    assert RESTS_KEY not in records[0].depth                           # the table stands on the floor
    # Re-layout and Import Run: the protocol's layout reads where it rests.
    again = solve(SIZE, targets_from_records(records), layout.settings)
    extents = tuple(records[1].placement["extents"])
    assert again.place("o1", extents).location == pytest.approx(tuple(records[1].placement["location"]))


def test_what_does_not_rest_on_its_neighbour_stays() -> None:
    # Far above it (its foot read 0.5 m high: more than half its height away), it is not on it.
    records, _, placed = lay_out(_table_and_box(), SIZE, FOCAL, PITCH, HEIGHT, adjust=_lift(0.5))
    assert RESTS_KEY not in records[1].depth and placed[1][:, 2].min() > TABLE_TOP + 0.4
    # A tall box behind a nearer one, its foot hidden: it stands on the floor, not on what hides it.
    world = [standing_box((0.8, 0.6, 0.7), (0.0, 3.0, 0.0)), standing_box((0.3, 0.3, 1.6), (0.0, 4.2, 0.0))]
    records, _, placed = lay_out(world, SIZE, FOCAL, PITCH, HEIGHT)
    assert all(RESTS_KEY not in record.depth for record in records) and abs(placed[1][:, 2].min()) < 0.02


def test_a_manifests_garbage_where_it_rests_is_ignored() -> None:
    seen = {"top_m": 1.05, "bottom_m": 0.81, "top_seen": True, "bottom_seen": True}
    for garbage in ("0.75", float("nan"), -1.0, 1e9, True, [0.75]):
        assert Heights.of({**seen, RESTS_KEY: garbage}).base == pytest.approx(0.81)
    assert Heights.of({**seen, RESTS_KEY: 0.75}).base == 0.75 and Heights.of({**seen, RESTS_KEY: 0.75}).height == \
        pytest.approx(0.30)
    assert np.isfinite(Heights.of(seen).base)
