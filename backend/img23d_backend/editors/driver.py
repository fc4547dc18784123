"""Editing, whichever editor it is: an image editor fills in what is hidden in an object's crops, from
an instruction.

The model (the job's ``--editor``: one of ``table.EDITOR_PACKAGES``, or its tiny replica; each editor's
``model.py`` says where its files and facts come from) is registered with the model manager as three
parts (``parts`` reads each on its own), and ``edit_images`` runs in three phases, each holding on the
device only the parts it needs (``memory.EDITOR_PHASES``): the text encoder reads the instructions; the
VAE encodes the crops and the transformer denoises; the VAE decodes. What each phase does is its
editor's (``Editor.phases``, in ``<editor>/phases.py``), found by the pipeline ``model_index.json``
names (``table.editor_for_pipeline``).

Why parts under the manager rather than diffusers' ``enable_model_cpu_offload``: the manager is the
one place that moves weights, and it already evicts least recently used first within its budget; as
parts, the editor's networks are evicted like any model. When the budget holds every part, nothing
moves between phases and a second edit reads nothing from disk (the result is the whole pipeline's
call, value for value); when it holds only the largest phase's, each phase's parts come in as the
previous phase's go to RAM. Phases run over all the requests at once, so parts move once per call,
not once per crop. Each phase's pipeline is built from the parts it holds (the others left None: the
phase's code never reaches them), which costs nothing and keeps no reference to an evicted part.

Before any part is loaded, ``editor_placement`` picks the placement from the manager's budget and
refuses in one sentence what cannot fit (the setting to change named); each phase checks that its
activations fit in the memory free beside its parts. Each crop is placed on its canvas
(``canvas``: about the area the model edits at, a size the pipeline keeps for its reference and its
answer alike, the crop scaled to fit and centred on white), edited from noise seeded with its request's
seed, and the answer's part where the crop lay scaled back to the crop's size. It does not judge the result (blank,
unchanged or wrong pictures are the caller's to find). A model that cannot be loaded or run raises
``skips.EditorUnavailable`` with one sentence (``skips.editor_sentence`` words it for a job); a cancel
stays a cancel.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import PIL.Image
from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken
from ..stages.skips import editor_unavailable
from .memory import DECODE, DENOISE, ENCODE, EditorPhase, check_editor_activations, editor_placement
from .parts import EditorOptions, editor_dtype
from .pipeline import CancelledPartway, EditorModel, EditRequest
from .table import DEFAULT_EDITOR, EDITOR_ROWS, EDITOR_TABLE, editor_for_pipeline

log = logging.getLogger(__name__)


def edit_images(manager: Any, requests: Sequence[EditRequest], cancel: CancelToken,
                edit_size: int = 0) -> list[PIL.Image.Image]:
    """Each request's crop edited by the manager's editor (in phases, each holding its parts on the device
    within the budget), RGB, at the crop's size; ``skips.EditorUnavailable`` with one sentence when it cannot
    be loaded or run, or does not fit (a cancel stays a cancel). ``edit_size``: each crop is edited at the
    area of a square of that side (the job's option); 0, the registry's area for the model."""
    if not requests:
        return []
    pixels = edit_size * edit_size or EditorOptions.of(manager.spec("editor")).working_pixels
    return run_phases(manager, requests, cancel, pixels)


def run_phases(manager: Any, requests: Sequence[EditRequest], cancel: CancelToken,
               pixels: int, denoised: Callable[[int], None] | None = None) -> list[PIL.Image.Image]:
    """The three phases over ``requests`` at about ``pixels`` a picture (what the placement and the memory
    checks count), each request's picture back; ``skips.EditorUnavailable`` with one sentence when the
    editor cannot be loaded or run, or does not fit (a cancel stays a cancel). ``edit_images`` runs crops
    through it, ``text_picture`` a picture made from text. A request without an instruction is the caller's
    ``bad_request``: the editor would run, told nothing. ``denoised``: the caller keeps what is made (pictures
    made from text, to pick from): it is told each request's index as its denoising ends, and a cancel then
    decodes the requests denoised by then and raises ``CancelledPartway`` with their pictures (it discarded them)."""
    for number, request in enumerate(requests, 1):
        if not request.instruction.strip():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"edit {number} has no instruction: say what the editor "
                                                       "should do to the picture")
    try:
        return _edit(manager, list(requests), cancel, pixels, denoised)
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        raise editor_unavailable(manager, exc) from exc
    except Exception as exc:  # the boundary of the editing step: any failure keeps the crops as they are
        raise editor_unavailable(manager, exc) from exc


def _edit(manager: Any, requests: list[EditRequest], cancel: CancelToken, pixels: int,
          denoised: Callable[[int], None] | None = None) -> list[PIL.Image.Image]:
    itemsize = editor_dtype(manager.device).itemsize
    spec = manager.spec("editor")
    # A model that does not fit is told apart from the default editor, which the sentence then offers.
    smaller = DEFAULT_EDITOR if spec.repo_id != EDITOR_ROWS[DEFAULT_EDITOR].spec.repo_id else None
    references = max(len(request.references) for request in requests)  # the crops are denoised one by one
    # What a crop's canvas holds at ``pixels``: FLUX.2 [klein] edits at 1024 x 1024's area at most, and a larger
    # --edit-size was refused, or costed, at an area it never paints.
    # A picture made from text has no reference to cap its canvas: it is painted at the area asked.
    canvas = EDITOR_TABLE.code_of(spec).canvas_pixels(pixels) if all(r.image is not None for r in requests) \
        else pixels
    fit = editor_placement(manager.part_sizes("editor"), canvas, manager.device, itemsize, budget=manager.budget(),
                           smaller_editor=smaller, references=references)
    log.info("%s", fit.sentence())
    with _phase(manager, ENCODE, pixels, canvas, itemsize, cancel) as model:
        run = editor_for_pipeline(type(model.pipeline).__name__).phases
        instructions = run.encode(model, requests, manager.device, cancel)
    try:
        with _phase(manager, DENOISE, pixels, canvas, itemsize, cancel, references) as model:
            model.denoised = denoised
            latents = run.denoise(model, requests, instructions, cancel)
    except CancelledPartway as stopped:
        if denoised is None:
            raise
        latents = stopped.done
    if denoised is None:
        with _phase(manager, DECODE, pixels, canvas, itemsize, cancel) as model:
            return run.decode(model, requests, latents, cancel)
    # What was denoised is decoded whatever the cancel (seconds, against minutes of denoising), and kept.
    finishing = CancelToken()
    with _phase(manager, DECODE, pixels, canvas, itemsize, finishing) as model:
        pictures = run.decode(model, requests[:len(latents)], latents, finishing)
    if cancel.cancelled:
        raise CancelledPartway(pictures)
    return pictures


@contextmanager
def _phase(manager: Any, phase: EditorPhase, pixels: int, canvas: int, itemsize: int, cancel: CancelToken,
           references: int = 0) -> Iterator[EditorModel]:
    """The phase's parts resident on the device for the block, as a pipeline editing at ``pixels``; its
    activations at ``canvas`` pixels a picture (with ``references`` more pictures beside a crop) checked
    against the memory free beside them. A cancel is checked first: a cancelled edit loads nothing more."""
    cancel.check()
    with manager.use("editor", phase.parts) as parts:
        check_editor_activations(canvas, itemsize, manager.device, phase=phase, references=references)
        model = EditorModel.of(parts)
        model.working_pixels = pixels  # the job's area, when it names one
        yield model
