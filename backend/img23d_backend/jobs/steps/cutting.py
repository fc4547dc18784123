"""Each target's crop and cut-out, as Generate and Detect (when it previews completion) make them.

The crop is the target's box grown by the job's margin (``stages.crop``), written to ``crops/``;
a picture's own alpha that holds the target alone in its crop is its cut-out (``jobs.steps.cutout
.own_alpha_cutout``: as a view's own alpha is), and the matting model mattes every other crop in one batch
(``matting.driver.matte_all``: the out-of-memory retry, NaN checks); the cut-out keeps the named object
alone (``jobs.steps.cutout``) and is written to ``mattes/``. The crop's matte as matting gave it, past the box,
is kept beside it: completion reads it there. A target whose matting ran out of memory or gave nothing usable
fails with one sentence; the others go on. A target's other candidates (its variations) share its crop, cut-out
and fate (``share_cut_outs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from ...readers.images import LoadedImage
from ...runs.folders import TargetRecord
from ...stages.crop import crop_box
from .cutout import box_in_crop, named_cutout, own_alpha_cutout
from ...matting import driver as matting
from ...matting.driver import MIN_FOREGROUND, UnusableMatte, foreground_fraction
from ...models.oom import OutOfMemory
from ..base import JobRun

Box = tuple[float, float, float, float]
Rect = tuple[int, int, int, int]


@dataclass
class Cut:
    """One target's crop and what matting made of it, in the pixels of the loaded (working) picture."""

    rect: Rect                 # the crop in the picture
    crop: Image.Image
    box: Box                   # the target's box in the crop's pixels
    matte: Any = None          # the crop's matte as matting gave it (RGBA, past the box), None without one
    cutout: Any = None         # the named cut-out (RGBA), or the OutOfMemory / UnusableMatte that stands for it

    def picture_box(self) -> Box:
        """The target's box in the picture's pixels."""
        return (self.box[0] + self.rect[0], self.box[1] + self.rect[1],
                self.box[2] + self.rect[0], self.box[3] + self.rect[1])


def crop_targets(run: JobRun, image: LoadedImage, records: list[TargetRecord]) -> dict[str, Cut]:
    """The crop stage: each record's crop (by stem), written to ``crops/`` and named in its record."""
    cuts: dict[str, Cut] = {}
    with run.stage("crop"):
        for record in records:
            box = image.to_working(record.box)
            rect = crop_box(box, image.size, run.options.margin, run.options.min_crop)
            crop = image.image.crop(rect)
            cuts[record.stem] = Cut(rect=rect, crop=crop, box=box_in_crop(box, rect))
            record.crop = run.run_folder.relative(run.run_folder.write_image(f"crops/{record.stem}.png", crop))
    return cuts


def matte_targets(run: JobRun, image: LoadedImage, records: list[TargetRecord], cuts: dict[str, Cut]) -> None:
    """The matting stage: each cut's ``matte`` and ``cutout``, the cut-out written to ``mattes/`` and
    named in its record; a target whose matting failed, or whose cut-out is empty, fails."""
    with run.stage("matting"):
        if image.has_alpha and not run.request.targets:
            # The whole picture is the object and the artist's alpha already cuts it out.
            for record in records:
                cuts[record.stem].cutout = cuts[record.stem].crop
        elif records:
            for record in records:  # the artist's alpha holds this object alone: it is the cut-out
                cut = cuts[record.stem]
                if image.has_alpha and (own := own_alpha_cutout(cut.crop, cut.box)) is not None:
                    cut.matte, cut.cutout = cut.crop, own
            matted = [record for record in records if cuts[record.stem].cutout is None]
            # Each other crop is matted with its margin for context; the cut-out keeps the named object.
            results = []
            if matted:
                with run.manager.use("matting") as model:
                    results = matting.matte_all(run, model, [cuts[r.stem].crop for r in matted])
            for record, result in zip(matted, results):
                cut = cuts[record.stem]
                if isinstance(result, Image.Image):
                    cut.matte, cut.cutout = result, named_cutout(result, cut.crop, cut.box)
                else:
                    cut.cutout = result
        for record in records:
            _keep_or_fail(run, record, cuts[record.stem].cutout)


def _keep_or_fail(run: JobRun, record: TargetRecord, cutout: Any) -> None:
    """A usable cut-out is written to ``mattes/``; anything else fails the target with its sentence."""
    if isinstance(cutout, OutOfMemory):
        run.fail_target(record, ProtocolError(ErrorCode.OUT_OF_MEMORY, f"matting {record.target!r} ran out of "
                                              "memory, even alone", cutout.detail, target=record.target))
        return
    if isinstance(cutout, UnusableMatte):  # never an empty cut-out passed off as one
        run.fail_target(record, ProtocolError(ErrorCode.SHAPE_FAILED, f"matting {record.target!r} failed: "
                                              f"{cutout.reason}", target=record.target))
        return
    record.matte = run.run_folder.relative(run.run_folder.write_image(f"mattes/{record.stem}.png", cutout))
    if foreground_fraction(cutout) < MIN_FOREGROUND:
        run.fail_target(record, ProtocolError(ErrorCode.SHAPE_FAILED, f"the cut-out of {record.target!r} is empty: "
                                              "matting found no object in its box", target=record.target))


def share_cut_outs(live: list[TargetRecord], cutouts: dict[str, Any]) -> None:
    """A target's other candidates take its crop, cut-out and fate (one matting pass for all)."""
    firsts = {r.stem: r for r in live if r.candidate_of is None}
    for record in live:
        first = firsts.get(record.candidate_of or "")
        if first is None:
            continue
        record.crop, record.matte, record.completion = first.crop, first.matte, first.completion
        if first.status == "failed":  # reported once, with its first candidate
            record.status, record.error = "failed", first.error
        else:
            cutouts[record.stem] = cutouts[first.stem]
