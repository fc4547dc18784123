"""Completing a hidden target: which targets look hidden and why (what is kept of the editor's answer is
test_completion_fill.py's)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from img23d_backend.jobs.steps.completion import fill, occlusion
from img23d_backend.jobs.steps.completion.covering import Seen

SIZE = (120, 100)                 # the crop, width x height
BOX_IN_CROP = (20.0, 20.0, 100.0, 80.0)
RED = (200, 30, 30)


# -- the decision -------------------------------------------------------------------------------

def test_overlap_is_over_the_smaller_box() -> None:
    table = (0.0, 100.0, 400.0, 300.0)
    cup = (180.0, 60.0, 220.0, 120.0)      # its lower third stands in front of the table
    assert occlusion.overlap_share(cup, table) == pytest.approx(1 / 3)
    assert occlusion.overlap_share(table, cup) == pytest.approx(1 / 3)  # the same both ways
    assert occlusion.overlap_share(cup, (500.0, 0.0, 600.0, 50.0)) == 0.0
    assert occlusion.overlap_share(cup, (220.0, 60.0, 260.0, 120.0)) == 0.0  # touching is not overlapping


# A picture 300 x 200: a red disc whose lower right a blue block stands in front of.
PICTURE = (300, 200)
DISC_CIRCLE = (40, 30, 160, 150)
BLOCK_RECT = (110, 90, 230, 190)


def _scene() -> np.ndarray:
    picture = Image.new("RGB", PICTURE, (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw.ellipse(DISC_CIRCLE, fill=RED)
    draw.rectangle(BLOCK_RECT, fill=(30, 30, 200))
    return np.asarray(picture)


def _seen(name: str, box: tuple[float, ...], mask: np.ndarray, margin: int = 15) -> Seen:
    """A detection matted as a job mattes it: the crop is its box grown by ``margin`` (inside the
    picture), and the crop's matte is ``mask`` (the whole picture's foreground) over that crop."""
    rect = (max(0, int(box[0]) - margin), max(0, int(box[1]) - margin),
            min(PICTURE[0], int(box[2]) + margin), min(PICTURE[1], int(box[3]) + margin))
    alpha = np.where(mask[rect[1]:rect[3], rect[0]:rect[2]], 255, 0).astype(np.uint8)
    return Seen(name, tuple(float(v) for v in box), rect, alpha)


def _shape_mask(draw_shape) -> np.ndarray:
    mask = Image.new("L", PICTURE, 0)
    draw_shape(ImageDraw.Draw(mask))
    return np.asarray(mask) > 0


def _disc_and_block(disc_mask: np.ndarray | None = None, block_mask: np.ndarray | None = None) -> tuple[Seen, Seen]:
    visible_disc = _shape_mask(lambda d: d.ellipse(DISC_CIRCLE, fill=255)) & ~_shape_mask(
        lambda d: d.rectangle(BLOCK_RECT, fill=255))
    block = _shape_mask(lambda d: d.rectangle(BLOCK_RECT, fill=255))
    return (_seen("disc", (40, 30, 161, 151), visible_disc if disc_mask is None else disc_mask),
            _seen("block", (110, 90, 231, 191), block if block_mask is None else block_mask))


def test_a_disc_partly_behind_a_block_is_covered_and_the_block_is_not() -> None:
    disc, block = _disc_and_block()
    picture = _scene()
    assert occlusion.decide("auto", disc, [block], picture) == occlusion.Decision(True, "covered by 'block'")
    # The block's matte crosses none of its edges, and the disc holds nothing of the shared area.
    assert occlusion.decide("auto", block, [disc], picture) == occlusion.Decision(
        False, "nothing covers it and its matte stays inside its box")


def test_mattes_that_take_in_the_neighbour_too_are_settled_by_colour() -> None:
    # BiRefNet mattes every salient thing in its crop: here each crop's matte holds both objects, so
    # both claim the shared area; it is blue, the block's colour, so the block is the one in front.
    both = _shape_mask(lambda d: (d.ellipse(DISC_CIRCLE, fill=255), d.rectangle(BLOCK_RECT, fill=255)))
    disc, block = _disc_and_block(both, both)
    picture = _scene()
    assert occlusion.decide("auto", disc, [block], picture) == occlusion.Decision(True, "covered by 'block'")
    # The disc's matte past the block's edges lies in the disc's box: the neighbour, not a sign.
    assert not occlusion.decide("auto", block, [disc], picture).complete
    # Without the picture's colours such pixels cannot be settled: nothing is covered.
    assert occlusion.covered_by(disc, [block], None) is None
    # Two objects of one colour, both mattes taking in both: neither can be said to be in front.
    grey = np.full((PICTURE[1], PICTURE[0], 3), 255, np.uint8)
    grey[both] = (90, 90, 90)
    assert occlusion.covered_by(disc, [block], grey) is None and occlusion.covered_by(block, [disc], grey) is None


def _blue_in(seen: Seen) -> np.ndarray:
    """The block's pixels (the scene's blue) in ``seen``'s crop."""
    x0, y0, x1, y1 = seen.rect
    return np.all(_scene()[y0:y1, x0:x1] == (30, 30, 200), axis=-1)


def test_a_covered_target_knows_which_pixels_of_its_crop_the_one_in_front_holds() -> None:
    # Both mattes take in both objects, as BiRefNet's do: the disc's crop holds the block's pixels
    # in its matte. Those, and only those, are the block's: completion must not paste them back.
    both = _shape_mask(lambda d: (d.ellipse(DISC_CIRCLE, fill=255), d.rectangle(BLOCK_RECT, fill=255)))
    disc, block = _disc_and_block(both, both)
    decision = occlusion.decide("auto", disc, [block], _scene())
    assert decision.in_front is not None and decision.in_front.shape == disc.alpha.shape
    assert decision.in_front.any() and np.array_equal(decision.in_front, _blue_in(disc))
    # "always" leaves the block out of the disc too; the block has nothing in front of it.
    assert np.array_equal(occlusion.decide("always", disc, [block], _scene()).in_front, _blue_in(disc))
    assert occlusion.decide("always", block, [disc], _scene()).in_front is None


def test_the_one_in_front_holds_nothing_past_its_own_cut_outs_band() -> None:
    # A blue sticker on the disc, inside the block's crop but past the band the block's cut-out keeps:
    # both mattes take it in and it has the block's colour, yet it is not the block and stays the disc's.
    tag_rect = (96, 76, 104, 84)
    block_rect = _shape_mask(lambda d: d.rectangle(BLOCK_RECT, fill=255))
    tag = _shape_mask(lambda d: d.rectangle(tag_rect, fill=255))
    visible_disc = _shape_mask(lambda d: d.ellipse(DISC_CIRCLE, fill=255)) & ~block_rect
    disc, block = _disc_and_block(visible_disc | block_rect | tag, block_rect | tag)
    picture = _scene().copy()
    picture[tag] = (30, 30, 200)
    in_front = occlusion.decide("auto", disc, [block], picture).in_front
    x0, y0 = disc.rect[0], disc.rect[1]
    assert in_front[tag_rect[1] - y0:tag_rect[3] - y0, tag_rect[0] - x0:tag_rect[2] - x0].sum() == 0
    assert np.array_equal(in_front, _blue_in(disc))


def test_a_target_completed_for_its_box_edge_has_nothing_in_front() -> None:
    crossing = occlusion.decide("auto", Seen("cup", (20, 20, 100, 80), (0, 0, 120, 100),
                                             _matte_with((20, 30, 115, 70))), [])
    assert crossing.complete and crossing.reason.startswith("the matte runs into") and crossing.in_front is None


def test_overlapping_boxes_with_neither_matte_in_the_shared_area_cover_nothing() -> None:
    # Loose boxes that overlap by a third, each object small in its own box's far corner.
    left = _shape_mask(lambda d: d.rectangle((20, 20, 60, 60), fill=255))
    right = _shape_mask(lambda d: d.rectangle((200, 140, 240, 180), fill=255))
    a, b = _seen("jar", (10, 10, 160, 130), left), _seen("box", (100, 70, 250, 190), right)
    picture = _scene()
    assert occlusion.overlap_share(a.box, b.box) > occlusion.OVERLAP_SHARE
    assert not occlusion.decide("auto", a, [b], picture).complete
    assert not occlusion.decide("auto", b, [a], picture).complete


def test_a_sliver_shared_by_loose_boxes_is_not_an_overlap() -> None:
    # Side by side, the boxes share 4 px of a 100 px width: 4 %, under the threshold, even though the
    # chair's matte fills the sliver and the table's does not.
    table = _shape_mask(lambda d: d.rectangle((10, 10, 95, 100), fill=255))
    chair = _shape_mask(lambda d: d.rectangle((96, 10, 190, 100), fill=255))
    decision = occlusion.decide("auto", _seen("table", (0, 0, 100, 110), table),
                                [_seen("chair", (96, 0, 196, 110), chair)], _scene())
    assert decision == occlusion.Decision(False, "nothing covers it and its matte stays inside its box")


def test_a_target_without_a_matte_is_covered_by_nothing() -> None:
    disc, block = _disc_and_block()
    assert occlusion.covered_by(Seen("disc", disc.box), [block], _scene()) is None
    assert occlusion.covered_by(disc, [Seen("block", block.box)], _scene()) is None


def test_several_covering_names_are_named_once_the_one_hiding_most_first() -> None:
    disc, block = _disc_and_block()
    small = _shape_mask(lambda d: d.rectangle((40, 120, 70, 150), fill=255))
    disc_mask = (disc.alpha > 0)
    # The disc's matte is background under the tag too: the tag covers it there.
    x0, y0 = disc.rect[0], disc.rect[1]
    disc_mask[120 - y0:151 - y0, 40 - x0:71 - x0] = False
    disc = Seen("disc", disc.box, disc.rect, np.where(disc_mask, 255, 0).astype(np.uint8))
    tag = _seen("tag", (40, 120, 71, 151), small)
    assert occlusion.covered_by(disc, [tag, block, block], _scene()) == "covered by 'block', 'tag'"


def _matte_with(fill_box: tuple[int, int, int, int]) -> np.ndarray:
    alpha = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    x0, y0, x1, y1 = fill_box
    alpha[y0:y1, x0:x1] = 255
    return alpha


def test_a_matte_that_stays_inside_its_box_is_not_hidden_even_when_it_fills_the_box() -> None:
    alpha = _matte_with((20, 20, 100, 80))  # a boxy object: its matte is its box
    assert occlusion.matte_crossing(alpha, BOX_IN_CROP) is None


def test_a_matte_that_crosses_the_box_edge_names_the_side() -> None:
    alpha = _matte_with((20, 20, 100, 80))
    alpha[60:100, 40:80] = 255                 # something runs on below the box's bottom edge
    assert occlusion.matte_crossing(alpha, BOX_IN_CROP) == "the matte runs into the box's bottom edge"
    alpha[30:50, 0:20] = 255                   # and past its left edge
    assert occlusion.matte_crossing(alpha, BOX_IN_CROP) == "the matte runs into the box's left and bottom edges"
    # The crop at (100, 50) of the picture: the same box there, judged through decide.
    target = Seen("vase", (120.0, 70.0, 200.0, 130.0), (100, 50, 220, 150), alpha)
    decision = occlusion.decide("auto", target, [])
    assert decision == occlusion.Decision(True, "the matte runs into the box's left and bottom edges")


def test_a_crossing_into_a_neighbours_box_is_the_neighbour() -> None:
    alpha = _matte_with((20, 20, 100, 80))
    alpha[60:100, 40:80] = 255                 # runs on below the bottom edge, into a named neighbour
    target = Seen("vase", (120.0, 70.0, 200.0, 130.0), (100, 50, 220, 150), alpha)
    neighbour = Seen("stool", (130.0, 125.0, 190.0, 200.0))
    assert occlusion.decide("auto", target, [neighbour]) == occlusion.Decision(
        False, "nothing covers it and its matte stays inside its box")


def test_a_box_on_the_pictures_border_is_not_judged_there() -> None:
    # The box reaches the crop's (the picture's) bottom: nothing beyond it to look at.
    alpha = _matte_with((20, 20, 100, 100))
    assert occlusion.matte_crossing(alpha, (20.0, 20.0, 100.0, 100.0)) is None


def test_a_stray_pixel_across_the_edge_does_not_count() -> None:
    alpha = _matte_with((20, 20, 100, 80))
    alpha[79:100, 60:62] = 255                  # 2 px of an 80 px edge: under a tenth
    assert occlusion.matte_crossing(alpha, BOX_IN_CROP) is None


def test_always_never_and_the_artists_opt_out() -> None:
    disc, block = _disc_and_block()
    far = Seen("lamp", (250.0, 0.0, 290.0, 40.0))
    assert occlusion.decide("always", far, [disc, block]) == occlusion.Decision(True, "asked for every target")
    assert not occlusion.decide("never", disc, [block], _scene()).complete
    off = occlusion.decide("auto", disc, [block], _scene(), turned_off=True)
    assert off == occlusion.Decision(False, "the artist turned completion off for it")
    assert not occlusion.decide("always", disc, [block], turned_off=True).complete
