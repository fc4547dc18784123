"""A picture made from text by the image editor (``generate --prompt``): the same three phases as an edit
(``driver.run_phases``, each holding only its parts on the device through the model manager), given one
request without a crop, so the pipeline paints from its noise alone at the picture's size (diffusers'
``Flux2KleinPipeline`` with ``image=None``). What it is asked (the template, the size, which editor may)
is ``text_prompt``'s.

The editor leaves the device as soon as the picture is made (``manager.offload``): grounding, matting,
depth and shape come next and need the room; on a CPU, where the device is RAM, that drops it.

The placement and the memory checks count the picture's pixels as an edit's area (``check_picture_memory``
before the job's run folder, the phases' own checks as they run): an edit's estimate holds the crop's latents
beside the noise's, which a picture from text has not, so it errs on the large side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import PIL.Image

from ..env.job_control import CancelToken
from .driver import run_phases
from ..models.preflight import Room
from .memory import editor_placement
from .parts import EditorOptions, editor_dtype
from .pipeline import CancelledPartway, EditRequest
from .text_prompt import PICTURE_TEMPLATE, PromptRecord, check_maker, check_side, default_size, picture_prompt

log = logging.getLogger(__name__)

ROLE = "editor"  # the model manager's role of the image editor, which makes the picture


@dataclass(frozen=True)
class MadePicture:
    """The picture (RGB, at ``record.size``) and what the run record keeps of how it was made."""

    image: PIL.Image.Image
    record: PromptRecord


def picture_size(manager: Any, side: int) -> tuple[int, int]:
    """The size the picture is made at: a square of ``side`` (checked), or for 0 the model's own (``default_size``)."""
    if check_side(side):
        return side, side
    return default_size(EditorOptions.of(manager.spec(ROLE)).working_pixels)


def check_picture_memory(manager: Any, side: int, room: Room | None = None) -> None:
    """``out_of_memory`` in one sentence, before anything is loaded, when the editor cannot make a picture of
    ``side`` (0: the model's own) in phases within the manager's budget and ``room`` (what the machine holds)."""
    width, height = picture_size(manager, side)
    editor_placement(manager.part_sizes(ROLE), width * height, manager.device, editor_dtype(manager.device).itemsize,
                     room=room, budget=manager.budget())


def make_picture(manager: Any, text: str, seed: int, cancel: CancelToken, side: int = 0) -> MadePicture:
    """The picture the manager's editor makes from the artist's ``text`` (put in ``PICTURE_TEMPLATE``) from noise
    seeded with ``seed``, a square of ``side`` (0: the model's own): ``make_pictures`` with one seed."""
    [made] = make_pictures(manager, text, [seed], cancel, side)
    return made


def make_pictures(manager: Any, text: str, seeds: Sequence[int], cancel: CancelToken, side: int = 0,
                  denoised: Callable[[int], None] | None = None) -> list[MadePicture]:
    """One picture per seed of ``seeds`` (Make Picture's variations: the artist picks one), in that order, made
    from the artist's ``text`` in one pass of the editor's phases (its parts move once, not once a picture; the
    denoising takes one picture at a time, so the memory is one picture's); the editor off the device afterwards,
    whatever happened. ``denoised`` is told each picture's index as its denoising ends. A cancel once some are
    denoised raises ``CancelledPartway`` with theirs (``MadePicture``, the first seeds'): kept, not discarded.
    ``ProtocolError(bad_request)`` when the editor does not make pictures from text (before anything is loaded);
    ``skips.EditorUnavailable`` with one sentence when it cannot be loaded, run or fitted."""
    check_maker(manager.spec(ROLE))
    width, height = picture_size(manager, side)
    model_text = picture_prompt(text)
    log.info("making %d %d x %d picture(s) from the prompt (seeds %s)", len(seeds), width, height,
             ", ".join(map(str, seeds)))

    def made(images: list[PIL.Image.Image]) -> list[MadePicture]:
        return [MadePicture(image.convert("RGB"), PromptRecord(prompt=text, template=PICTURE_TEMPLATE,
                                                               model_text=model_text, seed=seed, size=(width, height)))
                for image, seed in zip(images, seeds)]

    try:
        images = run_phases(manager, [EditRequest(None, model_text, seed=seed, size=(width, height)) for seed in seeds],
                            cancel, width * height, denoised=denoised or (lambda index: None))
    except CancelledPartway as stopped:
        raise CancelledPartway(made(stopped.done)) from stopped
    finally:
        manager.offload(ROLE)  # grounding and shape come next: the device is theirs
    return made(images)
