"""A Generate from a prompt (issue 76): the picture made from the artist's text, kept as the run's picture,
then read as any picture is (``jobs.kinds.generate``).

The request gives a picture or a prompt, never both and never neither (the protocol's
``check_picture_or_prompt``; the prompt itself was checked on arrival, ``validate_prompt``, and is checked
again here for a request made in this process). The picture is made by the image editor
(``editors.text_picture``: the model manager's phases, the editor off the device before grounding), a
square of the job's ``edit_size`` (0: the model's own), from the job's seed; it is written where every run
keeps its picture (``PICTURE_FILE``) and read back through the image reader, so the chain reads its bytes
as it reads an artist's file; the manifest's ``image`` names no source file and keeps, under ``prompt``, the
artist's text, the template it was put in and the seed (``editors.text_prompt.PromptRecord``). Without
names, the one object is named by the prompt's first words (``img23d_protocol.name_from_prompt``).

A Generate from a picture img23d made earlier (Make Picture's, picked in the add-on) carries that picture's prompt
and seed (``image_prompt``, ``image_seed``): its manifest keeps them under ``image``'s ``prompt`` the same way
(``picked_record``), so the run says what its picture was made from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from img23d_protocol import (ESTIMATE_STAGE, Artifact, ArtifactKind, GenerateRequest, PictureRequest,
                             RegenerateRequest, check_boxes, check_made_from, check_picture_or_prompt, duration,
                             name_from_prompt, seed_at, validate_image_prompt, validate_image_seed, validate_prompt)

from ...editors.picture_costs import expected_picture_seconds
from ...editors.pipeline import CancelledPartway
from ...editors.text_picture import ROLE, MadePicture, check_picture_memory, make_pictures, picture_size
from ...editors.text_prompt import check_maker, check_side
from ...models.stage_seconds import host_seconds
from ...models.step_costs import device_label, refuse_long_run
from ...readers.images import LoadedImage, load_image
from ...runs.folders import PICTURE_FILE
from ...runs.stems import variation_stem
from ...stages.step_context import Request, StepContext
from ..context import EngineContext

STAGE = "picture"
# The requests a picture is made for: a Generate's from a prompt, and Make Picture's (``jobs.kinds.picture``).
PromptRequest = GenerateRequest | RegenerateRequest | PictureRequest


def prompt_of(request: Request) -> str:
    """The request's prompt; "" for a picture's request (and a Regenerate's, which reads a run's cut-outs)."""
    return getattr(request, "prompt", "")


def check_request(request: GenerateRequest | RegenerateRequest) -> bool:
    """Whether a Generate rests on a prompt, refusing in one sentence each a prompt that is not one
    (``validate_prompt``), a prompt beside a picture, neither of them, and a picture side the editor cannot
    make; False for a Regenerate."""
    if not isinstance(request, GenerateRequest):
        return False
    prompt = validate_prompt(request.prompt)
    check_picture_or_prompt(request.image, prompt)
    if prompt:
        check_side(request.options.edit_size)
    return bool(prompt)


def check_picked(request: GenerateRequest | RegenerateRequest) -> None:
    """Refuse, in one sentence each, a picked picture's prompt or seed (``image_prompt``, ``image_seed``) that is not
    one, or that comes without a picture: checked on arrival from the wire, and again here for a request made in
    this process, before the manifest keeps them."""
    if isinstance(request, GenerateRequest):
        request.image_prompt = validate_image_prompt(request.image_prompt)
        request.image_seed = validate_image_seed(request.image_seed)
        check_made_from(request.image, request.image_prompt, request.image_seed)


def picked_record(request: Request) -> dict[str, Any]:
    """What the manifest's ``image`` adds for a picked picture img23d made: under ``prompt``, as a picture made from a
    prompt keeps its own (``PromptRecord``: ``prompt``, ``seed``), the prompt and seed it was made from, those the
    request carries; {} for any other picture (an artist's, or one from an older add-on)."""
    prompt, seed = getattr(request, "image_prompt", ""), getattr(request, "image_seed", None)
    record = {**({"prompt": prompt} if prompt else {}), **({"seed": seed} if seed is not None else {})}
    return {"prompt": record} if record else {}


def check_model(request: PromptRequest, engine: EngineContext) -> None:
    """Refuse a prompt when the engine's image editor does not make pictures from text, before anything loads."""
    if prompt_of(request):
        check_maker(engine.manager.spec(ROLE))


def check_memory(request: PromptRequest, engine: EngineContext) -> None:
    """Refuse, in one sentence each, a prompt whose picture the image editor cannot make in this machine's memory,
    and one whose picture would take an hour or more on its device (a CPU's case) unaccepted, as every long step is
    refused: Make Picture's and a Generate's from a prompt alike."""
    if prompt_of(request):
        # The picture's size is known before it is made: a box outside it was refused once the picture was made
        # (a kept run folder, and on a CPU a quarter of an hour later).
        check_boxes(getattr(request, "boxes", None) or {}, list(getattr(request, "targets", []) or []),
                    picture_size(engine.manager, request.options.edit_size))
        check_picture_memory(engine.manager, request.options.edit_size, engine.total_room())
        count = pictures_asked(request)
        refuse_long_run("making the picture" if count == 1 else f"making {count} pictures",
                        count * expected_seconds(engine.manager, request.options.edit_size),
                        engine.manager.device_of(ROLE), request.options.accept_long,
                        "make it smaller (Picture Size, --picture-size)" if count == 1 else
                        "make fewer (Variations, --variations) or smaller (Picture Size, --picture-size)")


def pictures_asked(request: PromptRequest) -> int:
    """How many pictures a request makes from its prompt: Make Picture's variations (one a seed, the artist picks
    one); a Generate's one (its variations are candidates of each name, from that one picture)."""
    return request.options.variations if isinstance(request, PictureRequest) else 1


def variation_file(number: int) -> str:
    """The run folder's file of picture ``number`` (from 1): the first is the run's picture (``PICTURE_FILE``),
    the others are named as a name's candidates are (``-v2``, ``-v3``)."""
    stem, _, suffix = PICTURE_FILE.rpartition(".")
    return f"{variation_stem(stem, number)}.{suffix}"


def roles(request: GenerateRequest | RegenerateRequest) -> tuple[str, ...]:
    """The models a prompt adds to the job's: the image editor, which makes the picture."""
    return (ROLE,) if prompt_of(request) else ()


def object_name(request: GenerateRequest | RegenerateRequest) -> str:
    """The one object's name when no names are given: the prompt's first words, else the picture's file name."""
    prompt = prompt_of(request)
    return name_from_prompt(prompt) if prompt else ""


def run_name(request: GenerateRequest | RegenerateRequest) -> str:
    """What a Generate's run folder is named after: the prompt's first words, for a picture made from it now or
    earlier (``image_prompt``: a picked made picture, or the one ``--targets auto`` made first, whose file is the
    other run's ``input.png``); "" for an artist's picture (named after its file)."""
    made_from = getattr(request, "image_prompt", "")
    return object_name(request) or (name_from_prompt(made_from) if made_from.strip() else "")


def expected_seconds(manager: Any, side: int) -> float:
    """How long the image editor takes to make a picture of ``side`` (0: the model's own) on its device: its
    measured picture from text scaled to this device (``editors.picture_costs``), and the loading and the pipeline's
    own work beside it (``models.stage_seconds``: a tiny replica's whole time, 7 to 16 s where its compute alone
    said about 1 s)."""
    width, height = picture_size(manager, side)
    return (expected_picture_seconds(manager.spec(ROLE), manager.device_of(ROLE), width, height)
            + host_seconds("picture", 1))


@dataclass(frozen=True)
class KeptPicture:
    """A picture made from the prompt as its run keeps it: read back as any picture is, its file, its seed."""

    image: LoadedImage
    path: Path
    seed: int


def make_input(run: StepContext) -> LoadedImage:
    """The picture made from ``run``'s prompt, kept in its run folder as its picture (``make_inputs`` with one; the
    Generate's own estimate names its time among its stages)."""
    [kept] = make_inputs(run, 1, say_estimate=False)
    return kept.image


def make_inputs(run: StepContext, count: int, say_estimate: bool = True) -> list[KeptPicture]:
    """``count`` pictures made from ``run``'s prompt, from the job's seed on (one a seed), each kept in its run
    folder (``variation_file``: the first as its picture), recorded in its manifest (the first as the run's
    ``image``, the others under its ``variations``), announced as a ``picture`` artifact with its seed and read back
    as any picture is (``KeptPicture``); their expected time said before they start (``say_estimate``), as a line of
    its own, and of several, each as it is drawn. A cancel once some are drawn keeps those (they were discarded):
    written, recorded and announced as any, the manifest's ``image`` saying how many were asked and kept
    (``cancelled``), then the cancel goes on."""
    width, height = picture_size(run.manager, run.options.edit_size)
    what = f"a {width} x {height} picture" if count == 1 else f"{count} pictures of {width} x {height}"
    if say_estimate:   # a line of its own that stays (a Generate's estimate names the picture among its stages)
        expected = count * expected_seconds(run.manager, run.options.edit_size)
        run.progress(ESTIMATE_STAGE, 0, 0, f"{duration(expected)} on {device_label(run.manager.device_of(ROLE))}: "
                                           f"making {what} from the prompt")
    run.progress(STAGE, 0, 1, f"making {what} from the prompt")
    seeds = [seed_at(run.options.seed, offset) for offset in range(count)]

    def drawn(index: int) -> None:
        if count > 1:
            run.progress(STAGE, index + 1, count, f"picture {index + 1} of {count} drawn (seed {seeds[index]})")

    stopped: CancelledPartway | None = None
    with run.stage(STAGE):
        try:
            made = make_pictures(run.manager, prompt_of(run.request), seeds, run.job.cancel,
                                 side=run.options.edit_size, denoised=drawn)
        except CancelledPartway as exc:
            if not exc.done:
                raise
            made, stopped = exc.done, exc
        kept = _keep(run, made)
        if stopped is not None:
            run.run_folder.manifest.image["cancelled"] = {"asked": count, "kept": len(kept)}
    for picture in kept:
        run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.PICTURE, path=str(picture.path),
                              image_size=list(picture.image.size), seed=picture.seed))
    if stopped is not None:
        raise stopped   # the run closes as cancelled, its pictures kept
    return kept


def _keep(run: StepContext, made: list[MadePicture]) -> list[KeptPicture]:
    """The pictures ``made`` written into ``run``'s folder (the first as its picture), read back, and recorded in its
    manifest (the first as its ``image``, the others under its ``variations``)."""
    folder = run.run_folder
    paths = [folder.write_image(variation_file(number), picture.image) for number, picture in enumerate(made, 1)]
    kept = [KeptPicture(load_image(path), path, picture.record.seed) for path, picture in zip(paths, made, strict=True)]
    records = [{"copy": folder.relative(picture.path), **picture.image.manifest_fields()} for picture in kept]
    # Its source is "": no file was given (``Manifest.image_source``, which Import Run names its collection
    # after, falls back to the run's name); "prompt" says how it was made.
    folder.manifest.image = {"source": "", **records[0], "made_by": run.manager.spec(ROLE).display,
                             "prompt": made[0].record.to_dict()}
    if len(kept) > 1:
        folder.manifest.image["variations"] = [{**record, "seed": picture.seed}
                                               for record, picture in zip(records[1:], kept[1:], strict=True)]
    return kept


def not_found(request: Request) -> str:
    """What follows "none of the names was found in the image" for a picture made from a prompt: what to do."""
    if not prompt_of(request):
        return ""
    return (f" made from the prompt ({PICTURE_FILE} in the run folder): make another from another seed, or name "
            "what it shows")
