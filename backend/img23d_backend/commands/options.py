"""The command line's job options: the flags that set ``JobOptions``, and their checks' wording.

``generate`` takes every one of them; each flag's help states its range as the protocol's one
table of ranges (``OPTION_RANGES``) words it, so the command line and the add-on agree. A refused argument is
one sentence and exit code 2 in every command (``refused_usage``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from img23d_protocol import (ACCEPT_LONG_FLAG, COMPLETE_HIDDEN_CHOICES, DETAILED_TEXTURE_SIZE, OPTION_RANGES,
                             SHARPNESS_CHOICES, SYMMETRY_CHOICES, TOPOLOGY_CHOICES, VOLUME_DECODERS, ErrorCode,
                             JobOptions, OptionError, ProtocolError, check_budget_gb, describe_default_octrees,
                             describe_default_paint_steps, describe_default_steps)

from ..models.memory_cap import check_cap_gb

# Every command's exit codes (the module docstring of ``cli`` words them for users): all asked for was made; the
# job failed; its arguments or input refused (nothing ran); some targets failed and the rest were made.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
# The refusals a person answers by changing the command (a flag to add, an input to fix): exit code 2 with bad
# input, not 1, which a pipeline reads as a job that ran and failed (docs/cli.md's table). A licence or a long job
# not accepted is refused before any model loads, so no run folder is made (they exited 1, a failed job's code).
REFUSALS = frozenset({ErrorCode.BAD_REQUEST, ErrorCode.LICENCE_NOT_ACCEPTED, ErrorCode.LONG_JOB_NOT_ACCEPTED})


def add_job_options(parser: argparse.ArgumentParser, game_ready: bool = True, hidden: bool = True) -> None:
    """The flags of a job's options, on ``parser`` (``game_ready``: with the game-ready finish's)."""
    parser.add_argument("--seed", type=seed_argument, default=0,
                        help=f"{_allowed('seed')}, or '{RANDOM}': a new seed for this job, printed at the end")
    parser.add_argument("--steps", type=int, default=JobOptions.steps,
                        help=_allowed("steps", f"0 runs the shape model's own: {describe_default_steps()}"))
    parser.add_argument("--octree-resolution", type=int, default=JobOptions.octree_resolution,
                        help=_allowed("octree_resolution", "0 decodes at the shape model's own: "
                                                           f"{describe_default_octrees()}; the memory it needs "
                                                           "grows with its cube; a value this machine cannot hold "
                                                           "is refused"))
    parser.add_argument("--volume-decoder", default=JobOptions.volume_decoder, choices=VOLUME_DECODERS,
                        help="flashvdm: refine only near the surface (fast); dense: every grid point (slower)")
    parser.add_argument("--guidance", type=float, default=JobOptions.guidance_scale,
                        help=_allowed("guidance_scale"))
    label = parser.add_argument_group("the Label model's labels (--shape step1x-label only)")
    label.add_argument("--symmetry", default=JobOptions.symmetry, choices=SYMMETRY_CHOICES,
                       help="x: mirror-symmetric about the x axis (left-right); none: asymmetric; auto: the "
                            "model's default, which is its asymmetric label (default %(default)s)")
    label.add_argument("--edges", default=JobOptions.sharpness, choices=SHARPNESS_CHOICES,
                       help="edge sharpness: normal, smooth or sharp; auto: the model's default, which is "
                            "normal (default %(default)s)")
    parser.add_argument("--all-instances", action="store_true", help="one mesh per instance, not just the largest")
    parser.add_argument("--box", action="append", type=box_argument, default=[], metavar="NAME=X0,Y0,X1,Y1",
                        help="the box of a name, in pixels of the original picture (repeatable): that name is "
                             "not looked for, and a job whose every name has a box loads no grounding model")
    parser.add_argument("--variations", type=int, default=JobOptions.variations,
                        help="candidates of each name to choose from, each from its own seed (one grounding, "
                             "matting and depth pass): " + _allowed("variations"))
    if hidden:  # a job that cuts named targets out of a picture (not re-texturing: one reference, no neighbours)
        parser.add_argument("--complete-hidden", default=JobOptions.complete_hidden, choices=COMPLETE_HIDDEN_CHOICES,
                            help="complete what covers a target with the image editor before shape "
                                 "(docs/completion.md): auto, the targets that look covered (their box overlaps "
                                 "another's, or their matte runs into their box's edge); always, every target; "
                                 "never (default %(default)s)")
        parser.add_argument("--edit-size", type=int, default=JobOptions.edit_size,
                            help="the side of the square whose area each crop is edited at (its aspect kept): "
                                 + _allowed("edit_size", "smaller fits a smaller GPU"))
    parser.add_argument("--shape-batch", type=int, default=0,
                        help="images per shape batch: " + _allowed("shape_batch", "smaller when memory is short"))
    finish = parser.add_argument_group("the finished mesh")
    finish.add_argument("--face-budget", type=int, default=JobOptions.face_budget,
                        help="faces at most, after clean-up: " + _allowed("face_budget"))
    finish.add_argument("--smoothing", type=int, default=JobOptions.smoothing,
                        help="Taubin smoothing passes (keeps the size): " + _allowed("smoothing"))
    finish.add_argument("--fill-holes", type=int, default=JobOptions.fill_holes,
                        help="close holes of up to this many boundary edges: " + _allowed("fill_holes"))
    finish.add_argument("--min-piece", type=float, default=JobOptions.min_piece,
                        help="separate pieces with fewer faces than this fraction of the largest piece's are "
                             "removed; 0 keeps every piece, 1 only the largest: " + _allowed("min_piece"))
    if game_ready:
        add_finish_options(parser)
    parser.add_argument("--no-texture", action="store_true", help="untextured meshes only (no paint stage)")
    parser.add_argument("--no-materials", action="store_true",
                        help="the painted objects get their colour texture only, without the roughness and "
                             "metallic maps the material model estimates (on by default where texture is on)")
    parser.add_argument(ACCEPT_LONG_FLAG, action="store_true",
                        help="start the job even when completion and the material step would take hours on this "
                             "device (their estimate, from its measured speed, refuses such a job without it)")
    add_paint_options(parser)
    parser.add_argument("--fov", type=float, default=JobOptions.fov_degrees,
                        help="the camera's field of view across the picture's longer side, in degrees "
                             "(used unless the depth model estimates one): " + _allowed("fov_degrees"))
    parser.add_argument("--no-ground", action="store_true",
                        help="do not stand the objects on one floor; each keeps the height its depth gives")
    if game_ready:  # the jobs that write objects' GLBs (generate, batch), not re-texturing's painted mesh
        parser.add_argument("--splats", action="store_true",
                            help="also write each object as 3D Gaussian splats, <object>.splat.ply beside its "
                                 "GLB (the 3DGS PLY that SuperSplat and other splat viewers open)")


def add_paint_options(parser: argparse.ArgumentParser) -> None:
    """The paint stage's flags: texture size, paint and delight steps."""
    parser.add_argument("--texture-size", type=int, default=JobOptions.texture_size,
                        help="side of the baked texture in pixels: " + _allowed(
                            "texture_size", f"1024 or {DETAILED_TEXTURE_SIZE} for real use (larger is only upscaled)"))
    parser.add_argument("--paint-steps", type=int, default=JobOptions.paint_steps,
                        help=_allowed("paint_steps", f"0 runs the paint model's own: {describe_default_paint_steps()}"))
    parser.add_argument("--no-texture-sync", action="store_true",
                        help="the licence-clean paint model samples each view on its own, without upstream's "
                             "texture sync (on by default: it costs a little time, see the guide's Step1X-3D "
                             "texture page)")
    parser.add_argument("--delight-steps", type=int, default=JobOptions.delight_steps,
                        help=_allowed("delight_steps"))


def add_finish_options(parser: argparse.ArgumentParser, topology: str = JobOptions.topology) -> None:
    """The game-ready finish's flags (docs/game-ready.md): ``topology`` is the default topology."""
    game = parser.add_argument_group("game-ready finish (docs/game-ready.md)")
    game.add_argument("--topology", default=topology, choices=TOPOLOGY_CHOICES,
                      help="as-generated: the mesh as the clean-up left it; triangles: at most --faces triangles; "
                           "quads: about --faces quads (Instant Meshes), with colour and normal maps baked from "
                           "the generated mesh, which is kept in the run folder's high/ (default %(default)s)")
    game.add_argument("--faces", type=int, default=JobOptions.face_target,
                      help="the face target of --topology triangles or quads (a quad counts as one): "
                           + _allowed("face_target"))
    game.add_argument("--bake-size", type=int, default=JobOptions.bake_size,
                      help="side of the baked colour and normal maps in pixels: " + _allowed("bake_size"))


RANDOM = "random"


def box_argument(text: str) -> tuple[str, list[float]]:
    """``--box NAME=x0,y0,x1,y1``: the name and its four numbers (their sense is checked later, with
    the names and the picture)."""
    name, separator, numbers = text.rpartition("=")
    parts = [part.strip() for part in numbers.split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if not separator or not name.strip() or len(values) != 4:
        raise argparse.ArgumentTypeError(f"must be NAME=x0,y0,x1,y1 (four numbers, pixels of the picture), "
                                         f"not {text!r}")
    return name.strip(), values


def seed_argument(text: str) -> int | str:
    """``--seed``: a whole number (checked against its range with the other options) or ``random``."""
    if text.strip().casefold() == RANDOM:
        return RANDOM
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number or '{RANDOM}', not {text!r}") from None


def _allowed(option: str, note: str = "") -> str:
    """An option's range as the checks word it (protocol.OPTION_RANGES), a note, the default."""
    return f"{OPTION_RANGES[option].describe()}{'; ' + note if note else ''} (default %(default)s)"


# The command line's spelling of each option that JobOptions and check_budget_gb name.
FLAGS = {"seed": "--seed", "steps": "--steps", "octree_resolution": "--octree-resolution",
         "guidance_scale": "--guidance", "face_budget": "--face-budget", "shape_batch": "--shape-batch",
         "texture_size": "--texture-size", "paint_steps": "--paint-steps", "delight_steps": "--delight-steps",
         "fov_degrees": "--fov", "budget_gb": "--budget-gb", "smoothing": "--smoothing",
         "fill_holes": "--fill-holes", "min_piece": "--min-piece", "variations": "--variations",
         "symmetry": "--symmetry", "sharpness": "--edges", "topology": "--topology", "face_target": "--faces",
         "bake_size": "--bake-size", "complete_hidden": "--complete-hidden", "edit_size": "--edit-size"}


def usage_message(exc: ProtocolError) -> str:
    if isinstance(exc, OptionError) and exc.option in FLAGS:
        return f"{FLAGS[exc.option]} {exc.value!r} {exc.problem}: it must be {exc.allowed}"
    return exc.message


def failure_code(exc: ProtocolError) -> int:
    """The exit code a failure means: 2 for a refusal (arguments or input refused, a licence or a long job not
    accepted: ``REFUSALS``), 1 for any other."""
    return EXIT_USAGE if exc.code in REFUSALS else EXIT_FAILED


def said_failure(exc: ProtocolError) -> int:
    """A command's failure outside a job (before it, or around it): its one sentence and code on stderr, as
    ``progress.job_failed`` words a job's, and the exit code it means."""
    print(f"error: {usage_message(exc)} [{exc.code.value}]", file=sys.stderr)
    return failure_code(exc)


def check_common(args: argparse.Namespace) -> None:
    """The common flags every engine-opening command of ``cli`` takes, checked before anything loads: the memory
    budget in range, ``--out`` a folder (or none yet), not a file."""
    check_budget_gb(args.budget_gb)
    check_cap_gb(getattr(args, "memory_cap_gb", None))
    out = args.out.expanduser()
    if out.exists() and not out.is_dir():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"--out {out} is a file, not a folder")


def check_picture_path(path: Path | None, what: str = "picture") -> None:
    """``bad_request`` for a picture argument that names no file: a mistyped path loaded the models and made a
    run folder only to say so (a mistyped mesh was refused at once)."""
    if path is None:
        return
    if not path.exists():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"no {what} file at {path}")
    if not path.is_file():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path} is not a {what} file")


def refused_usage(exc: ProtocolError) -> int:
    """A command's arguments refused before anything ran: the one sentence on stderr, and exit code 2."""
    print(f"error: {usage_message(exc)}", file=sys.stderr)
    return EXIT_USAGE


def finish_options(args: argparse.Namespace) -> JobOptions:
    """The options of a job that finishes a mesh (retopo): the game-ready flags and, for painting
    it first, the paint stage's, checked."""
    options = JobOptions(topology=args.topology, face_target=args.faces, bake_size=args.bake_size,
                         texture_size=args.texture_size, paint_steps=args.paint_steps,
                         delight_steps=args.delight_steps)
    options.validate()
    return options


def job_options(args: argparse.Namespace) -> JobOptions:
    random_seed = args.seed == RANDOM
    options = JobOptions(seed=0 if random_seed else args.seed, random_seed=random_seed, steps=args.steps,
                         octree_resolution=args.octree_resolution, volume_decoder=args.volume_decoder,
                         guidance_scale=args.guidance, face_budget=args.face_budget, smoothing=args.smoothing,
                         fill_holes=args.fill_holes, min_piece=args.min_piece, variations=args.variations,
                         keep="all" if args.all_instances else "largest", shape_batch=args.shape_batch,
                         texture=not args.no_texture, texture_size=args.texture_size,
                         paint_steps=args.paint_steps, texture_sync=not args.no_texture_sync,
                         materials=not getattr(args, "no_materials", False), delight_steps=args.delight_steps,
                         fov_degrees=args.fov, ground=not args.no_ground, symmetry=args.symmetry,
                         sharpness=args.edges, topology=getattr(args, "topology", JobOptions.topology),
                         face_target=getattr(args, "faces", JobOptions.face_target),
                         bake_size=getattr(args, "bake_size", JobOptions.bake_size),
                         complete_hidden=getattr(args, "complete_hidden", JobOptions.complete_hidden),
                         edit_size=getattr(args, "edit_size", JobOptions.edit_size),
                         accept_long=getattr(args, "accept_long", False), splats=getattr(args, "splats", False))
    options.validate()
    return options
