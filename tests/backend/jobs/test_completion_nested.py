"""An object standing in front of a bigger one, wholly inside the bigger one's box: a cup on a sofa.

The sofa's matte takes in the cup (BiRefNet mattes every salient thing in its crop), and the cup's
colour cannot be read outside the sofa's box, where the covering rule used to read it. ``auto`` must
find the sofa covered by the cup, and completing the sofa (``auto`` or ``always``) must never paste the
cup back as if it were the sofa."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from completion_scene import CUP, CUP_ORANGE, SOFA, SOFA_GREEN, matte_dark, nested_picture
from img23d_backend.jobs.steps.completion import fill, occlusion
from img23d_backend.jobs.steps.completion.covering import Seen
from img23d_backend.stages.crop import crop_box
from img23d_backend.jobs.steps.cutout import box_in_crop, named_cutout


def _matted(name: str, box: tuple[int, ...], picture: Image.Image) -> tuple[Seen, Image.Image, Image.Image]:
    """A detection cropped and matted as a job does it: its Seen, its crop and its named cut-out."""
    box = tuple(float(v) for v in box)
    rect = crop_box(box, picture.size)
    crop = picture.crop(rect)
    matte = matte_dark(crop)
    cutout = named_cutout(matte, crop, box_in_crop(box, rect))
    return Seen(name, box, rect, np.asarray(matte.getchannel("A"))), crop, cutout


def _orange(pixels: np.ndarray) -> np.ndarray:
    return np.all(np.abs(pixels[..., :3].astype(int) - CUP_ORANGE) < 40, axis=-1)


def _editor_removes_the_cup(asks: Sequence[fill.EditAsk]) -> list[Image.Image]:
    """The whole sofa: every orange pixel painted the sofa's green."""
    pictures = []
    for ask in asks:
        rgb = np.asarray(ask.image.convert("RGB")).copy()
        rgb[_orange(rgb)] = SOFA_GREEN
        pictures.append(Image.fromarray(rgb, "RGB"))
    return pictures


def test_auto_finds_the_sofa_covered_by_the_cup_inside_its_box_and_the_cup_is_not() -> None:
    picture = nested_picture()
    sofa, _, _ = _matted("sofa", SOFA, picture)
    cup, _, _ = _matted("cup", CUP, picture)
    assert (sofa.alpha >= 128).sum() > 0 and occlusion.overlap_share(sofa.box, cup.box) == 1.0
    rgb = np.asarray(picture)
    assert occlusion.decide("auto", sofa, [cup], rgb) == occlusion.Decision(True, "covered by 'cup'")
    assert not occlusion.decide("auto", cup, [sofa], rgb).complete
    # One colour for both: colour cannot settle the pixels both mattes claim; the nested boxes do.
    grey = rgb.copy()
    grey[np.any(rgb < 235, axis=-1)] = (90, 90, 90)
    assert occlusion.decide("auto", sofa, [cup], grey).reason == "covered by 'cup'"


def test_completing_the_sofa_never_pastes_the_cup_back() -> None:
    picture = nested_picture()
    sofa, crop, cutout = _matted("sofa", SOFA, picture)
    cup, _, _ = _matted("cup", CUP, picture)
    cup_here = _orange(np.asarray(crop))
    assert cup_here.sum() > 4000 and (np.asarray(cutout)[cup_here, 3] == 255).all()  # the cut-out holds the cup
    for mode in ("always", "auto"):
        decision = occlusion.decide(mode, sofa, [cup], np.asarray(picture))
        assert decision.complete and decision.in_front is not None
        [done] = fill.complete([fill.Hidden("sofa", "sofa", crop, cutout, in_front=decision.in_front)],
                               _editor_removes_the_cup, lambda pictures: [matte_dark(p) for p in pictures])
        out = np.asarray(done.cutout)
        assert not (_orange(out) & (out[..., 3] >= 128)).any(), f"{mode}: the cup was pasted back as the sofa"
        assert (out[cup_here][:, :3] == SOFA_GREEN).all()  # the editor's sofa where the cup stood
