"""Completing a hidden target: which targets look hidden and why, what the editor is asked, what is
kept of its answer, and every way its answer can be unusable (each one sentence, the cut-out kept)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image, ImageDraw

from img23d_backend.stages.completion import fill, occlusion
from img23d_backend.stages.completion.fill import Completed, EditAsk, Hidden
from img23d_backend.stages.completion.covering import Seen
from img23d_backend.stages.cutout import box_in_crop, named_cutout
from img23d_backend.stages.matting import UnusableMatte

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


# -- what is asked and what is kept ---------------------------------------------------------------

def test_the_instruction_names_the_target() -> None:
    assert fill.instruction("red teapot") == ("the whole red teapot, nothing in front of it, on a plain white "
                                              "background, keep what is visible")


def _covered_disc() -> tuple[Image.Image, Image.Image]:
    """A red disc whose lower half a grey bar covers: the crop, and its cut-out (the visible upper half)."""
    crop = Image.new("RGB", SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(crop)
    draw.ellipse((30, 20, 90, 80), fill=RED)
    draw.rectangle((0, 50, 119, 99), fill=(90, 90, 90))
    alpha = Image.new("L", SIZE, 0)
    ImageDraw.Draw(alpha).pieslice((30, 20, 90, 80), 180, 360, fill=255)
    cutout = crop.copy()
    cutout.putalpha(alpha)
    return crop, cutout


def _editor_draws_the_whole_disc(asks: Sequence[EditAsk]) -> list[Image.Image]:
    """A deterministic editor: the whole disc on white, a little darker than the original red (so a
    test can tell its pixels from the seen ones), at each crop's size."""
    pictures = []
    for ask in asks:
        picture = Image.new("RGB", ask.image.size, (255, 255, 255))
        ImageDraw.Draw(picture).ellipse((30, 20, 90, 80), fill=(150, 20, 20))
        pictures.append(picture)
    return pictures


def _matte_non_white(pictures: list[Image.Image]) -> list[Image.Image]:
    """A deterministic matting: everything not near white is foreground."""
    out = []
    for picture in pictures:
        rgb = np.asarray(picture.convert("RGB"), dtype=np.int16)
        cut = picture.convert("RGB")
        cut.putalpha(Image.fromarray(np.where(rgb.min(axis=2) < 240, 255, 0).astype(np.uint8), "L"))
        out.append(cut)
    return out


def test_the_visible_pixels_are_pasted_back_under_the_matte() -> None:
    _, cutout = _covered_disc()
    edited = _editor_draws_the_whole_disc([EditAsk(cutout.convert("RGB"), "")])[0]
    pasted = np.asarray(fill.paste_visible(edited, cutout))
    assert tuple(pasted[35, 60]) == RED                  # seen: the original's own colour
    assert tuple(pasted[70, 60]) == (150, 20, 20)        # hidden: the editor's
    assert tuple(pasted[5, 5]) == (255, 255, 255)        # background: the editor's white


def test_a_hidden_target_is_completed_with_what_was_seen_kept() -> None:
    crop, cutout = _covered_disc()
    asked: list[EditAsk] = []

    def editor(asks: Sequence[EditAsk]) -> list[Image.Image]:
        asked.extend(asks)
        return _editor_draws_the_whole_disc(asks)

    [done] = fill.complete([Hidden("disc", "disc", crop, cutout, seed=7)], editor, _matte_non_white)
    assert done.skipped is None and done.cutout is not None
    assert [(a.instruction, a.seed, a.image.mode, a.image.size) for a in asked] == [
        (fill.instruction("disc"), 7, "RGB", SIZE)]
    alpha = np.asarray(done.cutout.getchannel("A"))
    before = np.asarray(cutout.getchannel("A"))
    assert alpha[70, 60] == 255 and before[70, 60] == 0          # the hidden half is there now
    assert (alpha >= before).all()                                # nothing seen was lost
    assert alpha[5, 5] == 0 and alpha[90, 5] == 0                 # the bar in front is gone
    assert tuple(np.asarray(done.cutout)[35, 60][:3]) == RED      # the seen half keeps its colour
    assert (alpha > 0).sum() > 1.8 * (before > 0).sum()


def test_the_one_in_front_is_neither_pasted_back_nor_kept() -> None:
    # The disc's matte takes in the block in front of it, as BiRefNet's does: its cut-out shows the
    # blue block inside the disc's box. Completed, the block's place is the editor's disc, and the
    # disc's own visible red stays exactly as it was.
    both = _shape_mask(lambda d: (d.ellipse(DISC_CIRCLE, fill=255), d.rectangle(BLOCK_RECT, fill=255)))
    disc, block = _disc_and_block(both, both)
    decision = occlusion.decide("auto", disc, [block], _scene())
    x0, y0, x1, y1 = disc.rect
    crop = Image.fromarray(_scene()[y0:y1, x0:x1])
    cutout = named_cutout(Image.fromarray(np.dstack([np.asarray(crop), disc.alpha]), "RGBA"), crop,
                          box_in_crop(disc.box, disc.rect))
    seen = np.asarray(cutout)
    block_here = _blue_in(disc)
    assert (seen[block_here, 3] == 255).any()  # the cut-out as seen holds the block

    def editor(asks: Sequence[EditAsk]) -> list[Image.Image]:  # the whole disc, and no block
        picture = Image.new("RGB", crop.size, (255, 255, 255))
        circle = (DISC_CIRCLE[0] - x0, DISC_CIRCLE[1] - y0, DISC_CIRCLE[2] - x0, DISC_CIRCLE[3] - y0)
        ImageDraw.Draw(picture).ellipse(circle, fill=(150, 20, 20))
        return [picture for _ in asks]

    [done] = fill.complete([Hidden("disc", "disc", crop, cutout, in_front=decision.in_front)], editor,
                           _matte_non_white)
    out = np.asarray(done.cutout)
    opaque = out[..., 3] >= 128
    assert not (opaque & np.all(np.abs(out[..., :3].astype(int) - (30, 30, 200)) < 60, axis=-1)).any()
    hidden_disc = block_here & _shape_mask(lambda d: d.ellipse(DISC_CIRCLE, fill=255))[y0:y1, x0:x1]
    assert (out[hidden_disc] == (150, 20, 20, 255)).all()      # the hidden part: the editor's disc
    assert not opaque[block_here & ~hidden_disc].any()         # the rest of the block's place: gone
    own = (seen[..., 3] == 255) & ~block_here
    assert own.sum() > 1000 and (out[own] == RED + (255,)).all()  # the disc's visible red, exactly
    # Without the mask (the defect it fixes), the block comes back on top of the editor's disc.
    [pasted_back] = fill.complete([Hidden("disc", "disc", crop, cutout)], editor, _matte_non_white)
    assert (np.asarray(pasted_back.cutout)[hidden_disc][:, :3] == (30, 30, 200)).all()


def test_a_mask_in_front_of_another_size_is_a_bug() -> None:
    _, cutout = _covered_disc()
    with pytest.raises(ValueError, match="the mask in front is 10 x 5 for a 120 x 100 cut-out"):
        fill.own_visible(cutout, np.zeros((5, 10), bool))


def _one_sentence(done: Completed, why: str) -> None:
    assert done.cutout is None
    assert done.skipped == f"'disc' was not completed: {why}; it keeps its cut-out as seen"


@pytest.mark.parametrize(("answer", "why"), [
    (lambda asks: [Image.new("RGB", (64, 64), (255, 255, 255))],
     "the editor returned a 64 x 64 picture for a 120 x 100 crop"),
    (lambda asks: [Image.new("RGB", SIZE, (0, 0, 0))], "the editor's picture is blank (one flat colour)"),
    (lambda asks: [Image.new("RGB", SIZE, (255, 255, 255))], "the editor's picture is blank (one flat colour)"),
    (lambda asks: [Image.fromarray(np.full((SIZE[1], SIZE[0]), np.nan, np.float32), "F")],
     "the editor's picture holds values that are not numbers (NaN or infinite)"),
    (lambda asks: [np.zeros((SIZE[1], SIZE[0], 3))], "the editor returned ndarray, not a picture"),
    (lambda asks: [], "the editor returned 0 pictures for 1 crops"),
])
def test_an_unusable_answer_keeps_the_cut_out_with_one_sentence(answer, why: str) -> None:
    crop, cutout = _covered_disc()
    [done] = fill.complete([Hidden("disc", "disc", crop, cutout)], answer, _matte_non_white)
    _one_sentence(done, why)


def test_an_editor_that_cannot_load_keeps_every_cut_out() -> None:
    crop, cutout = _covered_disc()

    def unavailable(asks: Sequence[EditAsk]) -> list[Image.Image]:
        raise ProtocolError(ErrorCode.MODEL_MISSING, "the editor model (FLUX.2 klein) is not downloaded")

    def broken(asks: Sequence[EditAsk]) -> list[Image.Image]:
        raise RuntimeError("CUDA error: an illegal memory access\nwas encountered")

    targets = [Hidden("disc", "disc", crop, cutout), Hidden("disc-2", "disc", crop, cutout)]
    for done in fill.complete(targets, unavailable, _matte_non_white):
        _one_sentence(done, "the editor model (FLUX.2 klein) is not downloaded")
    for done in fill.complete(targets, broken, _matte_non_white):
        _one_sentence(done, "the editor could not run: RuntimeError: CUDA error: an illegal memory access was "
                            "encountered")


def test_a_cancel_in_the_editor_stays_a_cancel() -> None:
    crop, cutout = _covered_disc()

    def cancelled(asks: Sequence[EditAsk]) -> list[Image.Image]:
        raise ProtocolError(ErrorCode.CANCELLED, "the job was cancelled")

    with pytest.raises(ProtocolError) as caught:
        fill.complete([Hidden("disc", "disc", crop, cutout)], cancelled, _matte_non_white)
    assert caught.value.code is ErrorCode.CANCELLED


def test_one_bad_answer_does_not_spoil_the_others() -> None:
    crop, cutout = _covered_disc()
    small = crop.resize((60, 50))
    small_cut = cutout.resize((60, 50))

    def editor(asks: Sequence[EditAsk]) -> list[Image.Image]:
        # Whatever the size asked, it draws at 120 x 100: right for the first crop, wrong for the second.
        return _editor_draws_the_whole_disc([EditAsk(crop, a.instruction) for a in asks])

    rematted: list[int] = []

    def rematte(pictures: list[Image.Image]) -> list[Image.Image]:
        rematted.append(len(pictures))
        return _matte_non_white(pictures)

    first, second = fill.complete([Hidden("disc", "disc", crop, cutout), Hidden("cup", "cup", small, small_cut)],
                                  editor, rematte)
    assert first.cutout is not None and first.skipped is None
    assert second.cutout is None and second.skipped.startswith("'cup' was not completed: the editor returned a 120 x 100")
    assert rematted == [1]  # only the usable answer is matted again


def test_a_picture_matting_cannot_use_keeps_its_cut_out() -> None:
    crop, cutout = _covered_disc()
    [done] = fill.complete([Hidden("disc", "disc", crop, cutout)], _editor_draws_the_whole_disc,
                           lambda pictures: [UnusableMatte("the matting model's output is not a number")])
    _one_sentence(done, "the completed picture could not be matted again (the matting model's output is not a number)")


def test_nothing_to_complete_asks_nothing() -> None:
    def never(asks: Sequence[EditAsk]) -> list[Image.Image]:
        raise AssertionError("the editor was asked with nothing to complete")

    assert fill.complete([], never, _matte_non_white) == []
