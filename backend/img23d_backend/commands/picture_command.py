"""``picture --prompt TEXT [--variations N] [--seed N|random] [--picture-size SIDE]``: Make Picture on the command
line (issue 76): the picture a prompt describes, alone, in a run folder of its own, before any 3D; with
``--variations N``, N pictures (one a seed from ``--seed`` on) for the artist to pick one, then
``generate PICKED.png --targets ...`` makes the objects from it as from any picture.

The command builds the protocol's ``PictureRequest`` and runs it through ``Session`` (``session_job``) as the add-on's
Make Picture does (``jobs/kinds/picture.py``): the same checks (the prompt as the protocol checks it, the side, the
editor's memory, a run of an hour or more refused unless ``--accept-long``), the same run folder and manifest.
Before the job it says the image editor's terms and download (``picture_terms``), as ``generate --prompt`` does.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Callable, TextIO

from img23d_protocol import (MAX_PICTURES, Artifact, ArtifactKind, JobOptions, Message, PictureJobResult,
                             PictureRequest, ProtocolError, check_budget_gb, check_picture_prompt)

from ..editors.text_prompt import PICTURE_MULTIPLE, PICTURE_SIDES, check_side
from ..env.interrupts import Interrupts
from ..models.hub import offline_requested
from .options import EXIT_OK, RANDOM, refused_usage, seed_argument
from .picture_terms import picture_terms
from .progress import ProgressPrinter, log_to_stderr


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
               common: Callable[[argparse.ArgumentParser], None]) -> None:
    picture = sub.add_parser("picture", help="--prompt -> the picture alone (or --variations N to pick from), "
                                             "before any 3D; then generate from the one picked",
                             description="Make the picture the prompt describes with the image editor, alone, in "
                                         "a run folder of its own; generate PICTURE --targets ... then makes its "
                                         "objects.")
    picture.add_argument("--prompt", required=True, help="what the picture should show")
    picture.add_argument("--variations", type=int, default=1,
                         help=f"how many pictures to pick from, 1 to {MAX_PICTURES}, one a seed from --seed on (default 1)")
    picture.add_argument("--seed", type=seed_argument, default=0, help="the first picture's seed, or 'random'")
    picture.add_argument("--picture-size", type=int, default=0, metavar="SIDE",
                         help=f"the square picture's side, a multiple of {PICTURE_MULTIPLE} from "
                              f"{PICTURE_SIDES.low:,.0f} to {PICTURE_SIDES.high:,.0f} (default: the model's own, 1024)")
    picture.add_argument("--accept-long", action="store_true", help="start a run estimated at an hour or more")
    common(picture)


def run(args: argparse.Namespace) -> int:
    """Run ``picture`` from parsed arguments; its exit code."""
    try:
        request = _request(args)
    except ProtocolError as exc:
        return refused_usage(exc)
    log_to_stderr(args.verbose)
    printer = _PicturePrinter(sys.stderr)
    with Interrupts() as interrupts:
        from ..session import Models   # the engine: seconds, a signal's window
        from . import session_job

        result = session_job.run_command(
            args.out, Models.from_args(args), request, printer, interrupts, PictureJobResult,
            before=lambda session: print(picture_terms(session.engine.manager, args.offline or offline_requested()),
                                         flush=True))
    if isinstance(result, int):   # stopped or failed, said already; the pictures a cancel kept, said here
        if printer.pictures:
            _print_pictures([made.path for made in printer.pictures], [made.seed for made in printer.pictures],
                            request.options.variations)
            print(f"kept: {len(printer.pictures)} of {request.options.variations} pictures, made before the cancel")
        return result
    _print_pictures(result.pictures, result.seeds, len(result.pictures))
    print(f"run folder: {result.run_dir}")
    picked = result.picture if len(result.pictures) == 1 else "PICKED.png"
    print(f"to make its objects: python -m img23d_backend generate {picked} --targets \"...\"")
    return EXIT_OK


class _PicturePrinter(ProgressPrinter):
    """The command's progress printer, which also keeps each picture announced (a cancelled run keeps those made)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.pictures: list[Artifact] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Artifact) and message.kind == ArtifactKind.PICTURE:
            self.pictures.append(message)
        super().__call__(message)


def _print_pictures(paths: list[str], seeds: list[int | None], asked: int) -> None:
    for number, (path, seed) in enumerate(zip(paths, seeds, strict=True), 1):
        label = "picture" if asked == 1 else f"picture {number}"
        print(f"{label} (seed {seed}): {path}")


def _request(args: argparse.Namespace) -> PictureRequest:
    """The picture request the arguments ask, each bad one refused in one sentence before anything loads."""
    check_budget_gb(args.budget_gb)
    prompt = check_picture_prompt(args.prompt)
    random_seed = args.seed == RANDOM
    options = JobOptions(seed=0 if random_seed else args.seed, random_seed=random_seed,
                         edit_size=check_side(args.picture_size), variations=args.variations,
                         accept_long=args.accept_long)
    options.validate()
    return PictureRequest(id=uuid.uuid4().hex[:12], prompt=prompt, options=options)


__all__ = ["add_parser", "run"]
