"""The completion step of a Generate (``complete_hidden``), between matting and shape; a Detect
previews it the same way (``detect``).

Each target's first candidate (its other candidates share its cut-out) is judged by
``jobs.steps.completion.occlusion`` under the job's choice and the artist's ``completion_off``; those to
complete go to the image editor together, with what was seen of each (less what the detections in
front of it hold, ``Decision.in_front``) pasted back and the matting model run again
through the job's matting path (``matting.driver.matte_all``). A completed cut-out is written to
``completed/<stem>.png`` beside the cut-out as seen (``mattes/<stem>.png``, which stays) and stands for
the target from here on: depth, shape and paint take it. A target whose name has views (the
request's ``views``, issue 55) is completed with them beside its crop, as many as the editor takes
(``jobs.steps.completion.references``): the cut-outs the views stage made of them before the completion
(``views.given.read_given``: each read once, through the image reader, and cut out through the same
matting path unless it has a real alpha channel); a view that could not be read or cut out is left out
with one sentence, and the completion goes on with the others. Each judged target's record gets its
``completion`` (``img23d_protocol.Completion``): completed or not, why, the file, or the one sentence
of a completion that could not be made, also said as a progress message.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any, Mapping, Sequence

import numpy as np
from img23d_protocol import COMPLETED_FOLDER, Completion, turned_off
from PIL import Image

from ...readers.images import LoadedImage
from ...runs.folders import TargetRecord
from .completion import covering, fill, occlusion, references, room
from .cutout import box_in_crop
from ...matting import driver as matting
from ...matting.foreground import flattened
from ...editors.driver import EditRequest, edit_images
from ...editors.parts import EditorOptions
from ...stages.step_context import StepContext
from ...views.given import NameViews
from .cutting import Cut

STAGE = "completion"


def roles(options: Any) -> tuple[str, ...]:
    """The models completion may load: the editor, where the job asks for completion."""
    return ("editor",) if options.complete_hidden != "never" else ()


def complete_hidden(run: StepContext, image: LoadedImage, firsts: list[TargetRecord], cuts: dict[str, Cut],
                    views: Mapping[str, NameViews] | None = None) -> None:
    """Judge and complete ``run``'s targets in place: each completed cut's ``cutout`` becomes the
    completed cut-out, each judged record gets its ``completion``. ``views``: the job's views by name, as
    ``views.given.read_given`` read and cut them out (a Detect has none)."""
    mode = run.options.complete_hidden
    if mode == "never" or not run.request.targets:  # the whole picture is one object: nothing hides it
        return
    judged = [r for r in firsts if r.status == "pending" and isinstance(cuts[r.stem].cutout, Image.Image)]
    picture = np.asarray(flattened(image.image))  # transparent parts white, as matting and the editor see them
    seen = {r.stem: _seen(r, cuts.get(r.stem), image.scale) for r in run.run_folder.manifest.records
            if r.box is not None and r.candidate_of is None}  # a target's candidates share its box and matte
    hidden = []
    rects: dict[str, tuple[int, int, int, int]] = {}  # the crop each target is completed in
    for record in judged:
        others = [s for stem, s in seen.items() if stem != record.stem]
        # A Detect request has no completion_off: the artist turns completion off after its preview.
        off = turned_off(getattr(run.request, "completion_off", []), record.target)
        decision = occlusion.decide(mode, seen[record.stem], others, picture, off)
        record.completion = Completion(completed=decision.complete, reason=decision.reason)
        if decision.complete:
            target, rects[record.stem] = _hidden(run, image, record, cuts[record.stem], seen[record.stem], decision,
                                                 picture)
            hidden.append(target)
    if not hidden:
        run.run_folder.save_manifest()
        return
    records = {r.stem: r for r in judged}
    grown = {h.stem: h.crop for h in hidden}
    with run.stage(STAGE):
        hidden = _with_views(run, hidden, views or {})
        results = fill.complete(hidden, _editor_call(run), lambda pictures: _rematte(run, pictures))
        said: set[str] = set()
        for step, done in enumerate(results, start=1):
            record = records[done.stem]
            if done.cutout is None:
                record.completion = replace(record.completion, completed=False, skipped=done.skipped)
                if done.skipped and done.skipped not in said:  # a failed editor says it once per target
                    said.add(done.skipped)
                    run.progress(STAGE, step, len(results), done.skipped)
                continue
            path = run.run_folder.write_image(f"{COMPLETED_FOLDER}/{done.stem}.png", done.cutout)
            record.completion = replace(record.completion, cutout=run.run_folder.relative(path))
            _keep(cuts[done.stem], rects[done.stem], grown[done.stem], done.cutout)
            sides = list(next(h.views for h in hidden if h.stem == done.stem))
            shown = f", with its {references.described(sides)} view{'s' if len(sides) > 1 else ''}" if sides else ""
            run.progress(STAGE, step, len(results), f"{record.target} completed ({record.completion.reason}){shown}")


def _hidden(run: StepContext, image: LoadedImage, record: TargetRecord, cut: Cut, seen: covering.Seen,
            decision: occlusion.Decision, picture: np.ndarray) -> tuple[fill.Hidden, tuple[int, int, int, int]]:
    """What the editor completes for a target, and the crop's rectangle: its crop grown toward the
    detections in front of it (``room``; its own when none runs into an edge), its cut-out and the mask
    in front placed in it."""
    rect, crop, cutout, in_front = cut.rect, cut.crop, cut.cutout, decision.in_front
    if decision.hiders and seen.matted():
        rect = room.room(seen, decision.hiders, picture, run.options.margin).rect
        if rect != cut.rect:
            crop = image.image.crop(rect)
            cutout = room.widen(cut.cutout, cut.rect, rect)
            in_front = room.widen_mask(decision.in_front, cut.rect, rect)
    return fill.Hidden(record.stem, record.target, crop, cutout, seed=int(record.seed or 0), in_front=in_front,
                       occluders=tuple(other.name for other in decision.hiders)), rect


def _with_views(run: StepContext, hidden: list[fill.Hidden], given: Mapping[str, NameViews]) -> list[fill.Hidden]:
    """Each target with its own name's views as the editor is shown them (``references.on_white``), as
    many as the editor takes beside the crop: the cut-outs the views stage made (``views.given``); a view
    that could not be read or cut out is said in one sentence and left out."""
    room_for = EditorOptions.of(run.manager.spec("editor")).pictures - 1
    left_out: list[str] = []
    shown: dict[tuple[str, str], Image.Image] = {}
    for target in hidden:
        views = {view.side: view for view in (given[target.name].views if target.name in given else ())}
        for side in references.chosen(tuple(views), room_for):
            cutout = views[side].cutout
            picture = references.on_white(cutout) if cutout is not None else None
            if picture is not None:
                shown[target.stem, side] = picture
            else:
                left_out.append(_left_out(target.name, side, views[side].why or "its cut-out is empty"))
    for sentence in left_out:
        run.progress(STAGE, 0, len(hidden), sentence)
    return [replace(target, views={side: shown[stem, side] for stem, side in shown if stem == target.stem})
            for target in hidden]


def _left_out(name: str, side: str, why: str) -> str:
    return f"the {side} view of {name!r} is left out of its completion: {why}"


def _keep(cut: Cut, rect: tuple[int, int, int, int], crop: Image.Image, completed: Image.Image) -> None:
    """The completed cut-out stands for the target from here on, with the crop it was completed in
    (when grown, its rectangle and box with it: depth reads the cut-out over that rectangle)."""
    if rect != cut.rect:
        box = cut.picture_box()
        cut.rect, cut.crop, cut.box, cut.matte = rect, crop, box_in_crop(box, rect), None
    cut.cutout = completed


def _seen(record: TargetRecord, cut: Cut | None, scale: float) -> covering.Seen:
    """A detection as occlusion judges it: its box in the picture's pixels, with its crop's matte
    placed there when it was matted (an RGBA picture's own alpha, a failed matting: none)."""
    box = tuple(v * scale for v in record.box)
    matte = cut.matte if cut is not None else None
    if not isinstance(matte, Image.Image) or matte.mode != "RGBA":
        return covering.Seen(record.target, box)
    return covering.Seen(record.target, box, cut.rect, np.asarray(matte.getchannel("A")))


def _rematte(run: StepContext, pictures: list[Image.Image]) -> list[Any]:
    """The matting model on the completed pictures, through the job's matting path (batched, the
    out-of-memory retry, NaN checks)."""
    with run.manager.use("matting") as model:
        return matting.matte_all(run, model, pictures)


def _editor_call(run: StepContext) -> fill.Edit:
    """The image editor as completion calls it: ``editors.driver.edit_images`` on the job's model
    manager and cancel token (its model is loaded at the first call, inside completion's boundary: a
    failure to load or run it is completion's one sentence, ``fill.complete``, never the job's end)."""
    def edit(asks: Sequence[fill.EditAsk]) -> list[Image.Image]:
        requests = [EditRequest(image=a.image, instruction=a.instruction, seed=a.seed, references=a.references)
                    for a in asks]
        return edit_images(run.manager, requests, run.job.cancel, run.options.edit_size)

    return edit
