"""Room for the hidden part: a covered target's crop grows toward what stands in front of it, on the
sides where that runs into the crop's edge, and nowhere else (the drawn disc and block of
test_completion.py: the block covers the disc's lower right and runs past its crop on the right and
at the bottom)."""

from __future__ import annotations

import numpy as np

from test_completion import PICTURE, _disc_and_block, _scene, _seen, _shape_mask
from img23d_backend.jobs.steps.completion import occlusion
from img23d_backend.jobs.steps.completion.covering import Seen
from img23d_backend.jobs.steps.completion.room import room, widen_mask

MARGIN = 0.1


def test_the_crop_grows_toward_the_one_in_front_where_it_runs_into_the_edge() -> None:
    disc, block = _disc_and_block()
    decision = occlusion.decide("auto", disc, [block], _scene())
    assert [other.name for other in decision.hiders] == ["block"]
    grown = room(disc, decision.hiders, _scene(), MARGIN)
    x0, y0, x1, y1 = disc.rect
    assert grown.grown == ("right", "bottom")
    # Right: to the block's right edge and the margin past it (the picture's border is nearer below).
    assert grown.rect[:2] == (x0, y0) and grown.rect[2] == int(np.ceil(231 + MARGIN * 121)) and grown.rect[3] == 200
    assert grown.rect[2] > x1 and y1 < 200


def test_an_occluder_that_stops_inside_the_crop_grows_nothing() -> None:
    # A block whose box is loose (it reaches far past the disc's crop) but whose pixels stay inside it.
    disc, _ = _disc_and_block()
    small = _shape_mask(lambda d: d.rectangle((110, 90, 150, 150), fill=255))
    visible = disc.alpha.copy()
    x0, y0 = disc.rect[:2]
    visible[90 - y0:151 - y0, 110 - x0:151 - x0] = 0
    disc = Seen("disc", disc.box, disc.rect, visible)
    block = _seen("block", (110, 90, 290, 195), small)
    assert occlusion.decide("auto", disc, [block], _scene()).complete
    assert room(disc, [block], _scene(), MARGIN).rect == disc.rect


def test_the_crop_never_grows_past_the_picture_nor_without_an_occluder() -> None:
    disc, block = _disc_and_block()
    grown = room(disc, [block], _scene(), MARGIN)
    assert 0 <= grown.rect[0] and grown.rect[3] <= PICTURE[1] and grown.rect[2] <= PICTURE[0]
    assert room(disc, [], _scene(), MARGIN).rect == disc.rect
    # What the crop held stays where it was in the grown one.
    mask = np.zeros(disc.alpha.shape, bool)
    mask[5, 7] = True
    placed = widen_mask(mask, disc.rect, grown.rect)
    assert placed.shape == (grown.rect[3] - grown.rect[1], grown.rect[2] - grown.rect[0])
    assert placed[5 + disc.rect[1] - grown.rect[1], 7 + disc.rect[0] - grown.rect[0]] and placed.sum() == 1
