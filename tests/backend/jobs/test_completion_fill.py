"""Completing a hidden target: what the editor is asked, what is kept of its answer (the target's own
visible pixels, never the one in front), and every way its answer can be unusable (each one sentence,
the cut-out kept). Which targets look hidden is test_completion.py's."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image, ImageDraw

from test_completion import (BLOCK_RECT, DISC_CIRCLE, _blue_in, _disc_and_block, _scene,  # the covered disc's scene
                             _shape_mask)
from img23d_backend.jobs.steps.completion import fill, occlusion
from img23d_backend.jobs.steps.completion.fill import Completed, EditAsk, Hidden
from img23d_backend.jobs.steps.cutout import box_in_crop, named_cutout
from img23d_backend.matting.driver import UnusableMatte

SIZE = (120, 100)                 # the crop, width x height
RED = (200, 30, 30)


# -- what is asked and what is kept ---------------------------------------------------------------

def test_the_instruction_names_the_target_and_what_stands_in_front() -> None:
    assert fill.instruction("red teapot") == ("the whole red teapot, nothing in front of it, on a plain white "
                                              "background, keep what is visible")
    # Named things in front are named to be taken away: "keep what is visible" alone may keep the table.
    assert fill.instruction("chair", ("table",)) == ("remove the table in front of the chair and show the whole "
                                                     "chair on a plain white background, keep what is visible of "
                                                     "the chair")
    assert fill.instruction("chair", ("table", "cup", "table")).startswith("remove the table and the cup in front")


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


def test_a_transparent_picture_is_shown_to_the_editor_on_white() -> None:
    """An RGBA picture's transparent pixels, stored black as many exporters write them: the editor was shown the
    crop on black and asked for a plain white background (matting always saw them white)."""
    crop, cutout = _covered_disc()
    rgba = np.asarray(crop.convert("RGBA")).copy()
    rgba[:10, :, :] = 0            # a transparent band along the top, its colour black
    asked: list[EditAsk] = []

    def editor(asks: Sequence[EditAsk]) -> list[Image.Image]:
        asked.extend(asks)
        return _editor_draws_the_whole_disc(asks)

    fill.complete([Hidden("disc", "disc", Image.fromarray(rgba, "RGBA"), cutout)], editor, _matte_non_white)
    shown = np.asarray(asked[0].image)
    assert asked[0].image.mode == "RGB" and (shown[:10] == 255).all() and tuple(shown[35, 60]) == RED


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
