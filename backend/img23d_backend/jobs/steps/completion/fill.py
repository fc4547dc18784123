"""Completing hidden targets: the editor asked for the whole object, its answer checked, what was
seen pasted back, and the result matted again.

The editor and the matting model are parameters (``Edit``, ``Rematte``): the job binds them to the
image editor (``editors.driver``) and to the matting model through its own matting path, and tests pass plain
functions. Completion serves a cut-out that already exists, so it never ends a target: an editor
that cannot load or run, or answers with a picture that is not usable, leaves the target's cut-out as
it was, with one sentence saying why (``Completed.skipped``). A cancel stays a cancel.

What is pasted back is the target's own visible pixels: its cut-out less the pixels a detection in
front of it holds (``Hidden.in_front``). The matting model cuts out the object in front too where it lies in
the target's box; pasted back, it would stand on top of the editor's completion, and be kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from ....matting.foreground import flattened
from ....stages.skips import reason
from . import references

log = logging.getLogger(__name__)

# A picture whose pixels spread less than this (standard deviation over every pixel and channel,
# 0..255) is one flat colour: what an editor gives when it fails quietly (all black from NaN, all
# white). A plain white background with any object on it spreads far more.
BLANK_SPREAD = 2.0


@dataclass(frozen=True)
class EditAsk:
    """One picture for the editor: the crop (RGB), what to make of it, the seed, and the target's views
    beside it (RGB, ``references``). The same fields as ``editors.pipeline.EditRequest``, which the job's
    binding builds from it."""

    image: Image.Image
    instruction: str
    seed: int = 0
    references: tuple[Image.Image, ...] = ()


# The editor: one picture per ask, in order. Raises (``EditorUnavailable``, one sentence) when it
# cannot load or run.
Edit = Callable[[Sequence[EditAsk]], Sequence[Any]]
# The matting model on RGB pictures: an RGBA cut-out per picture, or something else (an
# ``UnusableMatte``, an ``OutOfMemory``) for one it could not matte, with a ``reason`` or ``detail``.
Rematte = Callable[[list[Image.Image]], Sequence[Any]]


@dataclass(frozen=True)
class Hidden:
    """A target to complete: its crop (as matted, or grown toward what covers it), its cut-out (RGBA,
    the crop's size), name and seed; ``in_front``: the crop's pixels that detections in front of it
    hold (booleans [height, width]), None when nothing named covers it; ``occluders``: their names;
    ``views``: side -> the target's view as the editor is shown it (``references.on_white``), in the
    order it is given them."""

    stem: str
    name: str
    crop: Image.Image
    cutout: Image.Image
    seed: int = 0
    in_front: np.ndarray | None = field(default=None, compare=False, repr=False)
    occluders: tuple[str, ...] = ()
    views: dict[str, Image.Image] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Completed:
    """A target's completion: the completed cut-out (RGBA, the crop's size), or None and the sentence
    that says why it keeps its cut-out as seen."""

    stem: str
    cutout: Image.Image | None
    skipped: str | None = None


def instruction(name: str, occluders: Sequence[str] = (), sides: Sequence[str] = ()) -> str:
    """What the editor is asked for, naming the target and, when named detections stand in front of it,
    those: "keep what is visible" alone may keep the table in front of a chair; and, when its views are
    given beside the crop, which sides the other pictures show (the crop is always the first picture)."""
    if not occluders:
        asked = f"the whole {name}, nothing in front of it, on a plain white background, keep what is visible"
    else:
        named = " and the ".join(dict.fromkeys(occluders))
        asked = (f"remove the {named} in front of the {name} and show the whole {name} on a plain white "
                 f"background, keep what is visible of the {name}")
    if not sides:
        return asked
    return (f"{asked} and the view of the first picture; the other pictures show the same {name} from its "
            f"{references.described(sides)}")


def unusable(picture: Any, size: tuple[int, int]) -> str | None:
    """Why the editor's ``picture`` cannot stand for a crop of ``size`` (width, height), or None."""
    if not isinstance(picture, Image.Image):
        return f"the editor returned {type(picture).__name__}, not a picture"
    if picture.size != tuple(size):
        return (f"the editor returned a {picture.size[0]} x {picture.size[1]} picture for a {size[0]} x {size[1]} "
                "crop")
    values = np.asarray(picture, dtype=np.float64)  # a float picture (mode "F") may hold NaN
    if not np.isfinite(values).all():
        return "the editor's picture holds values that are not numbers (NaN or infinite)"
    if float(np.asarray(picture.convert("RGB"), dtype=np.float32).std()) < BLANK_SPREAD:
        return "the editor's picture is blank (one flat colour)"
    return None


def own_visible(cutout: Image.Image, in_front: np.ndarray | None) -> Image.Image:
    """The cut-out with no alpha where something in front holds the pixel: the target's own visible
    pixels, which completion pastes back and keeps (the cut-out itself when nothing is in front)."""
    if in_front is None:
        return cutout
    if in_front.shape != (cutout.height, cutout.width):  # the job's own masks: a mismatch is a bug
        raise ValueError(f"the mask in front is {in_front.shape[1]} x {in_front.shape[0]} for a "
                         f"{cutout.width} x {cutout.height} cut-out")
    alpha = np.asarray(cutout.getchannel("A")).copy()
    alpha[in_front] = 0
    own = cutout.copy()
    own.putalpha(Image.fromarray(alpha, "L"))
    return own


def paste_visible(edited: Image.Image, cutout: Image.Image) -> Image.Image:
    """The editor's picture with the target's own visible pixels (``own_visible``) on top, under
    their matte: what was seen of it stays exactly as it was, only what was hidden comes from the
    editor (RGB, the crop's size)."""
    alpha = np.asarray(cutout.getchannel("A"), dtype=np.float32)[..., None] / 255.0
    seen = np.asarray(cutout.convert("RGB"), dtype=np.float32)
    made = np.asarray(edited.convert("RGB"), dtype=np.float32)
    return Image.fromarray((seen * alpha + made * (1.0 - alpha) + 0.5).clip(0, 255).astype(np.uint8), "RGB")


def with_visible(rematted: Image.Image, cutout: Image.Image) -> Image.Image:
    """The completed cut-out: the new matte, never less than that of ``cutout``, the target's own
    visible pixels (what was seen of it is always kept, with its own colours), and not limited to the
    box (the hidden part may reach past it)."""
    seen_alpha = np.asarray(cutout.getchannel("A"), dtype=np.float32)
    new_alpha = np.asarray(rematted.getchannel("A"), dtype=np.float32)
    weight = (seen_alpha / 255.0)[..., None]
    rgb = (np.asarray(cutout.convert("RGB"), dtype=np.float32) * weight
           + np.asarray(rematted.convert("RGB"), dtype=np.float32) * (1.0 - weight))
    rgba = np.dstack([rgb, np.maximum(seen_alpha, new_alpha)])
    return Image.fromarray((rgba + 0.5).clip(0, 255).astype(np.uint8), "RGBA")


def skip_sentence(name: str, why: str) -> str:
    """The one sentence of a target that could not be completed."""
    return f"{name!r} was not completed: {why}; it keeps its cut-out as seen"


def complete(targets: Sequence[Hidden], edit: Edit, rematte: Rematte) -> list[Completed]:
    """Each target completed (in order), or kept as it was with its sentence.

    All crops go to the editor in one call, then every usable answer through matting in one call."""
    if not targets:
        return []
    asks = [EditAsk(image=flattened(t.crop), instruction=instruction(t.name, t.occluders, tuple(t.views)),
                    seed=t.seed, references=tuple(t.views.values())) for t in targets]
    try:
        edited = list(edit(asks))
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        return _all_skipped(targets, exc.message)
    except Exception as exc:  # the boundary of an optional step: a failing editor leaves the cut-outs as seen
        log.error("the editor failed: %r", exc)
        return _all_skipped(targets, f"the editor could not run: {reason(exc)}")
    if len(edited) != len(targets):
        return _all_skipped(targets, f"the editor returned {len(edited)} pictures for {len(targets)} crops")
    done: dict[str, Completed] = {}
    pasted: list[tuple[Hidden, Image.Image, Image.Image]] = []  # target, its own visible cut-out, pasted
    for target, picture in zip(targets, edited):
        problem = unusable(picture, target.crop.size)
        if problem:
            done[target.stem] = _skipped(target, problem)
        else:
            own = own_visible(target.cutout, target.in_front)
            pasted.append((target, own, paste_visible(picture, own)))
    if pasted:
        mattes = list(rematte([picture for _, _, picture in pasted]))
        if len(mattes) != len(pasted):  # our own matting path: a wrong count is a bug, not a skip
            raise ValueError(f"re-matting returned {len(mattes)} cut-outs for {len(pasted)} pictures")
        for (target, own, _), matte in zip(pasted, mattes):
            if isinstance(matte, Image.Image) and matte.mode == "RGBA" and matte.size == target.crop.size:
                done[target.stem] = Completed(target.stem, with_visible(matte, own))
            else:
                why = getattr(matte, "reason", None) or getattr(matte, "detail", None) or type(matte).__name__
                done[target.stem] = _skipped(target, f"the completed picture could not be matted again ({why})")
    return [done[t.stem] for t in targets]


def _skipped(target: Hidden, why: str) -> Completed:
    sentence = skip_sentence(target.name, why)
    log.warning(sentence)
    return Completed(target.stem, None, sentence)


def _all_skipped(targets: Sequence[Hidden], why: str) -> list[Completed]:
    return [_skipped(t, why) for t in targets]
