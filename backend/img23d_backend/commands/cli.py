"""Command line: ``python -m img23d_backend generate|detect|serve|probe|batch|retexture|retopo|relayout|parts|rig ...``
(and ``print``).

``generate`` and ``detect`` run the chain in this process with progress on stderr and the
outcome on stdout; ``serve`` is the JSON-lines service that the Blender add-on spawns (``serve_command``), and
each other command is its own module's, registered on this parser.
Exit codes: 0 everything asked for was made, 3 some targets failed, 1 the job failed,
2 the command line was wrong or the job was refused (a licence or a long job not accepted: ``options.REFUSALS``),
130 (Ctrl-C) or 143 (SIGTERM) the job was cancelled by a signal
(see ``interrupts``: its run folder's manifest says ``cancelled``).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, NoReturn

from img23d_protocol import (DetectRequest, ErrorCode, GenerateRequest, JobOptions, ProtocolError, SuggestRequest,
                             check_boxes, names_without_parts, offered_grids, parted_names_from_text, validate_boxes,
                             validate_targets)

from .. import __version__
from ..env.interrupts import Interrupts
from ..models import env_probe
from ..models.hub import offline_requested
from ..runs.folders import PICTURE_FILE, recover_interrupted
from . import batch, chain, models, parts_command, picture_command, print_command, probe, rig_command, serve_command
from .common_options import add_common_options
from .options import (EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, add_job_options, check_common, check_picture_path,
                      failure_code, job_options, refused_usage, said_failure)
from .picture_terms import picture_terms
from .progress import command_job, command_logging, job_failed, log_to_stderr, stopped_early
from .prompt_options import add_prompt_arguments, check_prompt_arguments
from .shown_text import shown_output
from .views import add_view_argument, views_from_arguments

AUTO_TARGETS = "auto"  # --targets auto: the grounding model suggests the names first


class OneSentenceParser(argparse.ArgumentParser):
    """argparse's refusals as one sentence and exit code 2, as every other refused argument is: its own
    printed the whole usage block (some forty lines for ``generate``) before the sentence. Every command's
    parser is one (``add_subparsers`` makes its parsers of its parser's class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (`{self.prog} --help` lists the options)\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:
        # Arguments no parser took are found by the top one, whose help lists no command's options: named
        # here with the command's own help.
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command", None)
            prog = f"{self.prog} {command}" if command else self.prog
            self.exit(EXIT_USAGE, f"error: unrecognized arguments: {' '.join(extras)} (`{prog} --help` lists the "
                                  "options)\n")
        return parsed


def build_parser() -> argparse.ArgumentParser:
    parser = OneSentenceParser(prog="python -m img23d_backend",
                               description="Turn a picture into one 3D mesh per named part.")
    parser.add_argument("--version", action="version", version=f"img23d backend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="image (or --prompt) + names -> one GLB per name")
    add_prompt_arguments(gen)
    gen.add_argument("--targets", default="", help='comma-separated names, e.g. "house, chimney"; a name '
                                                    'with its parts in brackets is made in parts too, e.g. '
                                                    '"lamp (shade, arm), table" (drawn by '
                                                    f'{parts_command.drawn_by()}; "lamp ()": the model finds '
                                                    'the parts); '
                                                    "empty = the whole image as one object; "
                                                    f"'{AUTO_TARGETS}' = the names the grounding model suggests "
                                                    "(every instance of each)")
    add_common_options(gen)
    add_job_options(gen)
    gen.add_argument("--parts-grid", type=int, default=0, choices=offered_grids(),
                     help="the decoding grid of the parts of a name made in parts, cells a side (default: the parts "
                          "model's own; smaller for a quick look; the model's grids are checked when it is known)")
    add_view_argument(gen)

    det = sub.add_parser("detect", help="grounding only: print the box of each name")
    det.add_argument("image", type=Path)
    det.add_argument("--targets", required=True, help="comma-separated names")
    add_common_options(det)

    serve_command.add_parser(sub, add_common_options)
    probe.add_parser(sub)
    models.add_parser(sub)
    batch.add_parser(sub, add_common_options)
    chain.add_parsers(sub, add_common_options)
    parts_command.add_parser(sub, add_common_options)
    picture_command.add_parser(sub, add_common_options)
    rig_command.add_parser(sub)
    print_command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    with shown_output():
        args = parser.parse_args(argv)
    with command_logging():  # main may run again in this process (the Python API, tests): its own log lines
        if args.command == "serve":
            return serve_command.run(args)   # its stdout is the protocol's: JSON lines, not a person's
        with shown_output():
            return _command(args)


# The commands whose modules run them whole (``serve`` too, before the shown output); ``generate`` and
# ``detect`` are this module's own.
_RUNNERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "probe": probe.run, "models": models.run, "batch": batch.run, "parts": parts_command.run,
    "rig": rig_command.run, "picture": picture_command.run, "print": print_command.run,
    **{name: chain.run for name in chain.COMMANDS}}


def _command(args: argparse.Namespace) -> int:
    if (unreadable := _not_utf8(args)) is not None:
        return refused_usage(unreadable)
    if (runner := _RUNNERS.get(args.command)) is not None:
        return runner(args)
    # From here a Ctrl-C or SIGTERM cancels the job (or ends a start-up that has not begun one).
    with Interrupts() as interrupts:
        return _run(args, interrupts)


def _not_utf8(args: argparse.Namespace) -> ProtocolError | None:
    """``bad_request`` for an argument that is not UTF-8 text (Python hands a Latin-1 file name over with lone
    surrogates): every run records its input's name in JSON, and such a name ended each command in a traceback."""
    values = [value for value in vars(args).values() if value is not None]
    while values:
        value = values.pop()
        if isinstance(value, (list, tuple)):
            values.extend(value)
        elif isinstance(value, (str, Path)):
            try:
                str(value).encode("utf-8")
            except UnicodeEncodeError:
                # surrogateescape takes back what Python escaped from the bytes; any other lone surrogate (an NTFS
                # name) is shown as its escape.
                shown = str(value).encode("utf-8", "surrogateescape" if _escaped_only(str(value)) else
                                          "backslashreplace").decode("utf-8", "replace")
                return ProtocolError(ErrorCode.BAD_REQUEST, f"{shown!r} is not UTF-8 text (a name from another "
                                                            "system's encoding): rename it")
    return None


def _escaped_only(text: str) -> bool:
    """Whether every surrogate in ``text`` is one Python's surrogateescape made of an undecodable byte."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _run(args: argparse.Namespace, interrupts: Interrupts) -> int:
    try:
        # Every usage error is found here, before anything is loaded, built or written.
        check_arguments(args)
    except ProtocolError as exc:
        return refused_usage(exc)
    log_to_stderr(args.verbose)
    try:
        engine = _engine(args)
        if (stopped := stopped_early(interrupts)) is not None:
            return stopped
        recover_interrupted(engine.settings.runs_dir)  # earlier runs killed mid-way say so, without debris
        run_job = _generate if args.command == "generate" else _detect
        return run_job(args, engine, interrupts)
    except ProtocolError as exc:
        return said_failure(exc)


def check_arguments(args: argparse.Namespace) -> None:
    """Raise ``ProtocolError(bad_request)`` for the first thing on the command line that is wrong;
    fills ``args.options`` and ``args.names`` with the checked values."""
    check_common(args)
    # "auto" is resolved by a suggest job once the engine is up (see _generate).
    auto = args.command == "generate" and args.targets.strip().casefold() == AUTO_TARGETS
    if args.command == "generate":
        check_prompt_arguments(args)  # a picture and a prompt at once: said before the picture is looked for
    check_picture_path(getattr(args, "image", None))
    args.names, args.parts = (None, {}) if auto else _names_and_parts(args)
    if args.command == "detect" and not args.names:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "detect needs at least one name in --targets")
    args.options = job_options(args) if args.command == "generate" else JobOptions()
    args.boxes = _boxes(args) if args.command == "generate" else {}
    args.views = views_from_arguments(args.view, args.names) if args.command == "generate" else {}


def _names_and_parts(args: argparse.Namespace) -> tuple[list[str], dict[str, list[str]]]:
    """--targets read: the names, and for generate those written with their parts, "lamp (shade, arm)" (detect
    finds whole objects: brackets there are one sentence)."""
    if args.command != "generate":
        return names_without_parts(args.targets, "--targets", args.command), {}
    return parted_names_from_text(args.targets, "--targets")


def _boxes(args: argparse.Namespace) -> dict[str, list[float]]:
    """The --box values, checked against the names (before anything is loaded)."""
    if not args.box:
        return {}
    if args.names is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "--box needs the names in --targets, not 'auto'")
    boxes: dict[str, list[float]] = {}
    for name, box in args.box:
        if any(name.casefold() == known.casefold() for known in boxes):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"--box gives {name!r} two boxes: give one")
        boxes[name] = box
    boxes = validate_boxes(boxes)
    check_boxes(boxes, args.names)
    return boxes


def picture_for_names(prompt: str, options: JobOptions) -> Any:
    """``session.picture_for_names``: the picture a prompt's ``--targets auto`` reads its names from (the engine's
    modules: imported once the arguments are checked)."""
    from ..session import picture_for_names as request

    return request(prompt, options)


def made_from_fields(picture: Any, made: Any) -> dict[str, Any]:
    """``session.made_from_fields``: what the Generate says of the picture it reads, made first from the prompt."""
    from ..session import made_from_fields as fields

    return fields(picture, made)


def _engine(args: argparse.Namespace) -> Any:
    """The engine, as the Python API makes it (``api.make_engine``): a job here loads models, so what they need
    is probed first (``serve`` probes only what every backend needs before its hello)."""
    from ..session import Models, make_engine

    return make_engine(Models.from_args(args), args.out, (*env_probe.GENERAL, *env_probe.MODEL_LOADING))


def _ran(engine: Any, request: Any, interrupts: Interrupts) -> tuple[Any, int]:
    """The request's result, run as the command's job, and 0; or None and the exit code after
    saying why the job failed."""
    job = command_job(request.id, interrupts)
    printer = job.emit
    try:
        result = engine.run(request, job)
    except ProtocolError as exc:
        return None, job_failed(printer, exc, exc.message, interrupts, failure_code(exc))
    printer.finish()
    return result, EXIT_OK


def _generate(args: argparse.Namespace, engine: Any, interrupts: Interrupts) -> int:
    names, options = args.names, args.options
    image, prompt = str(args.image or ""), args.prompt or ""
    if prompt:  # its model's terms and download, before the job's first line
        print(picture_terms(engine.manager, args.offline or offline_requested()), flush=True)
    picture = ""   # a picture made from the prompt before the Generate (--targets auto), to read its names from
    made_from: dict[str, Any] = {}   # and its prompt and seed, which the Generate's manifest keeps
    if names is None:  # --targets auto
        if prompt:
            asked = picture_for_names(prompt, options)
            made, exit_failed = _ran(engine, asked, interrupts)
            if made is None:
                return exit_failed
            image = picture = made.picture
            prompt, made_from = "", made_from_fields(asked, made)
        suggested = _suggest(image, engine, interrupts)
        if isinstance(suggested, int):
            return suggested
        names, every_instance = suggested
        if every_instance:
            options.keep = "all"
    request = GenerateRequest(id=_job_id(), image=image, targets=names, options=options, boxes=args.boxes,
                              views=args.views, parts=args.parts, parts_grid=args.parts_grid, prompt=prompt,
                              **made_from)
    result, exit_failed = _ran(engine, request, interrupts)
    if result is None:
        return exit_failed
    failed = 0
    for target in result.targets:
        # With variations each candidate says which it is and its seed, to find it again.
        label = target.target + (f" (variation {target.variation}, seed {target.seed})" if target.variation else "")
        if target.status == "done":
            print(f"{label}: {Path(result.run_dir) / (target.mesh or '')}")
            if target.splats:
                print(f"{label} as splats: {Path(result.run_dir) / target.splats}")
            if target.parts:  # made in parts too: each part, then all of them in one file
                for part, mesh in target.parts.files.items():
                    print(f"{label}, part {part}: {Path(result.run_dir) / mesh}")
                print(f"{label} in parts: {Path(result.run_dir) / target.parts.combined} ({target.parts.licence})")
        else:
            failed += 1
            error = target.error or {}
            print(f"{label}: FAILED [{error.get('code')}] {error.get('message')}")
    for skipped in (result.views_shape_skipped, result.texture_skipped, result.depth_skipped,
                    result.materials_skipped):  # went on without
        if skipped:
            print(skipped)
    said = set()
    for target in result.targets:  # a view that could not be used: its sentence, once for all the name's instances
        for sentence in (target.views_left_out or {}).values():
            if sentence not in said:
                said.add(sentence)
                print(sentence)
    for target in result.targets:  # quads asked for and not made: the finish's one sentence
        if target.fallback:
            print(f"{target.target}: {target.fallback}")
    for target in result.targets:  # --complete-hidden: what was completed and why, or why it could not be
        done = target.completion
        if done is not None and target.variation <= 1 and (done.completed or done.skipped):
            print(done.skipped or f"{target.target}: completed ({done.reason}): {Path(result.run_dir) / done.cutout}")
    if args.prompt:  # the picture it made, to look at or to start from again
        print(f"picture made from the prompt: {picture or Path(result.run_dir) / PICTURE_FILE}")
    print(f"run folder: {result.run_dir}")
    if options.random_seed:  # drawn by the backend: what the artist types to get this result again
        print(f"seed: {result.seed} (random; --seed {result.seed} makes the same objects)")
    return EXIT_PARTIAL if failed else EXIT_OK


def _suggest(image: str, engine: Any, interrupts: Interrupts) -> tuple[list[str], bool] | int:
    """The names the grounding model suggests for ``image`` (in a run folder of their own), and whether any
    was seen more than once; the exit code (after saying why) when it suggests nothing."""
    request = SuggestRequest(id=_job_id(), image=image)
    job = command_job(request.id, interrupts)
    printer = job.emit
    try:
        result = engine.run(request, job)
    except ProtocolError as exc:
        printer.finish()
        print(f"error: suggesting names failed: {exc.message} [{exc.code.value}]", file=sys.stderr)
        return failure_code(exc)
    printer.finish()
    every = result.all_instances
    print(f"suggested: {', '.join(result.names)}" + (" (every instance)" if every else ""))
    return validate_targets(list(result.names)), every


def _detect(args: argparse.Namespace, engine: Any, interrupts: Interrupts) -> int:
    result, exit_failed = _ran(engine, DetectRequest(id=_job_id(), image=str(args.image), targets=args.names), interrupts)
    if result is None:
        return exit_failed
    for name, boxes in result.boxes.items():
        if not boxes:
            print(f"{name}: not found")
        for box in boxes:
            print(f"{name}: " + " ".join(f"{v:.0f}" for v in box))
    return EXIT_PARTIAL if result.not_found else EXIT_OK


def _job_id() -> str:
    return uuid.uuid4().hex[:12]
