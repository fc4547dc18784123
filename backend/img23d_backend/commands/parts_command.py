"""``parts INPUT``: an object in parts, one GLB per part and the whole as ``<object>_combined.glb``.

Two ways, one command:

* ``parts MESH --split --names "shade, arm, base"`` cuts a mesh file into one part per name with the open
  grounding and matting models and img23d's own rasterizer (``parts/split/driver.py``): licence-clean, and no
  hidden geometry invented.
* ``parts INPUT`` without ``--split`` has a parts model (``--parts-model``: the protocol's rows,
  ``img23d_protocol.parts_models``, which the add-on offers too; a licence may reach what the model makes)
  draw the parts (``parts/driver.py``): INPUT is a picture or a mesh file; ``--image``
  adds a picture to a mesh, ``--mask`` an indexed part mask on the picture, ``--names`` the parts to find on
  the picture; with neither the model finds the parts itself.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from img23d_protocol import (DEFAULT_PARTS_MODEL, DRAWN_PARTS_WHY, MAX_SPLIT_PARTS, PARTS_MODELS, ErrorCode,
                             JobOptions, PartsRequest, ProtocolError, check_budget_gb, offered_grids, part_names)
from img23d_protocol.tables import look_up

from ..env.interrupts import Interrupts
from ..parts.part import check_limits
from ..parts.table import DEFAULT_PARTS, PARTS_ROWS
from ..readers.meshes import MESH_SUFFIXES, artist_mesh_file, check_mesh_path
from .options import EXIT_OK, EXIT_PARTIAL, RANDOM, refused_usage, seed_argument
from .progress import ProgressPrinter, command_failed, log_to_stderr, stopped_early


def drawn_by() -> str:
    """The default parts model as the help says it: its label and what its licence restricts (the protocol's
    row, so that the command line names no model of its own)."""
    row = PARTS_MODELS[DEFAULT_PARTS_MODEL]
    restrictions = row.licence.licence.restrictions()
    return row.label + (f" ({'; '.join(restrictions)})" if restrictions else "")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
               common: Callable[[argparse.ArgumentParser], None]) -> None:
    default = PARTS_MODELS[DEFAULT_PARTS_MODEL]
    parts = sub.add_parser("parts", help="an object in parts: a mesh split by names (--split), or parts drawn by "
                                         f"a parts model from a picture or a mesh (by default {drawn_by()})",
                           description="With --split: render the mesh from several sides, find each name on each "
                                       "render (grounding) and cut it out (matting), give every face one name and "
                                       "cut the mesh by name, each cut closed by a flat cap: no hidden geometry is "
                                       "invented. Without --split: the parts model draws each part, conditioned on "
                                       "the parts so far, from a picture, a mesh or both (by default "
                                       f"{default.label}, {default.licence.licence.summary()}).")
    parts.add_argument("input", type=Path, metavar="INPUT", help="a mesh (GLB, OBJ, PLY) or, without --split, a "
                                                                 "picture of the object")
    parts.add_argument("--split", action="store_true", help="split the mesh by --names (licence-clean)")
    parts.add_argument("--names", default="", help='comma-separated part names, e.g. "shade, arm, base" (a split: at most '
                                                    f'{MAX_SPLIT_PARTS})')
    parts.add_argument("--name", default="", help="the object's name, for file names (default: the input file's)")
    parts.add_argument("--render-size", type=int, default=None, metavar="PIXELS",
                       help="--split: side of the renders the models read (default 512)")
    model = parts.add_argument_group("the parts model (without --split)")
    model.add_argument("--image", type=Path, default=None, help="a picture of the object, with a mesh INPUT")
    model.add_argument("--mask", type=Path, default=None,
                       help="an indexed part mask the picture's size (a palette, grey or colour picture): one part "
                            "per non-zero value, --names naming them in increasing order of value")
    model.add_argument("--grid", type=int, default=None, choices=offered_grids(),
                       help=f"the decoding grid's cells a side (default: the parts model's own, {default.default_grid} "
                            f"for {default.label}); smaller for a quick look")
    model.add_argument("--max-parts", type=int, default=None,
                       help=f"parts at most (default: the most the parts model makes, {default.max_parts} for "
                            f"{default.label})")
    model.add_argument("--part-steps", type=int, default=0, help="denoising steps per part (0: the release's 50)")
    model.add_argument("--seed", type=seed_argument, default=0, help="the seed, or 'random'")
    model.add_argument("--face-budget", type=int, default=JobOptions.face_budget,
                       help="faces at most per part (each part simplified to it; 0 keeps every face)")
    model.add_argument("--accept-long", action="store_true", help="start a run estimated at an hour or more")
    model.add_argument("--parts-model", default=DEFAULT_PARTS, choices=tuple(PARTS_ROWS), help="the parts model")
    common(parts)


@dataclass(frozen=True)
class PartsArguments:
    """The command line checked before anything loads."""

    names: list[str]
    name: str
    mesh: Path | None
    picture: Path | None
    options: JobOptions


def run(args: argparse.Namespace) -> int:
    """Run ``parts`` from parsed arguments; its exit code (0 every part made, 3 some part empty)."""
    try:
        checked = _checked(args)
    except ProtocolError as exc:
        return refused_usage(exc)
    if args.split:
        args.parts_model = None   # a split registers no parts model
    log_to_stderr(args.verbose)
    with Interrupts() as interrupts:
        return _run(args, checked, interrupts)


def _checked(args: argparse.Namespace) -> PartsArguments:
    """The mode, the names, the files and the options, each bad one in one sentence."""
    check_budget_gb(args.budget_gb)
    is_mesh = args.input.suffix.lower() in MESH_SUFFIXES
    if args.split:
        check_mesh_path(args.input)   # --split cuts a mesh: anything else is said as a file that is none
        if args.image or args.mask:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "--image and --mask are the parts model's; --split finds "
                                                       "the names on renders of the mesh")
        names = part_names(args.names)
    else:
        drawing = look_up(PARTS_MODELS, args.parts_model, "parts model")
        check_limits(drawing, args.grid, args.max_parts, grid_flag="--grid", parts_flag="--max-parts")
        names = part_names(args.names, args.max_parts or drawing.max_parts,
                           f"{DRAWN_PARTS_WHY} (--max-parts)") if args.names.strip() else []
        if is_mesh and args.mask and not args.image:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a mask needs the picture it was drawn on: add --image")
        if not is_mesh and args.image:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "--image adds a picture to a mesh INPUT; INPUT is a picture "
                                                       "already")
        if is_mesh and names and not args.image:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "--names are found on a picture of the object: add --image, "
                                                       "or split the mesh by names with --split")
    if is_mesh:
        check_mesh_path(args.input)
    picture = args.input if not is_mesh else args.image
    for what, path in (("picture", picture), ("mask", args.mask)):
        if path is not None and not path.is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no {what} file at {path}")
    random_seed = args.seed == RANDOM
    options = JobOptions(seed=0 if random_seed else args.seed, random_seed=random_seed,
                         face_budget=args.face_budget, accept_long=args.accept_long)
    options.validate()
    return PartsArguments(names, args.name or args.input.stem or "object", args.input if is_mesh else None,
                          picture, options)


def _abandoning(abandon: Callable[[str], None], copy: Path | None) -> Callable[[str], None]:
    """``abandon`` (the job's manifest closed), then the mesh's converted ``copy`` removed with its folder:
    a process that ends under a stuck step (``os._exit``) runs no ``with`` block's exit, and would leave
    the copy in ``$TMPDIR/img23d-mesh-*``."""
    def closing(reason: str) -> None:
        abandon(reason)
        if copy is not None and copy.parent.name.startswith("img23d-mesh-"):
            # The process ends next, whatever this does: a copy that cannot be removed is no reason to stop it.
            shutil.rmtree(copy.parent, ignore_errors=True)
    return closing


def _run(args: argparse.Namespace, checked: PartsArguments, interrupts: Interrupts) -> int:
    from ..session import Models
    from . import session_job

    if (stopped := stopped_early(interrupts)) is not None:
        return stopped
    printer = ProgressPrinter(sys.stderr)
    try:
        session = session_job.open_session(args.out, Models.from_args(args))
        with ExitStack() as stack:
            mesh = str(stack.enter_context(artist_mesh_file(checked.mesh))) if checked.mesh else ""
            request = PartsRequest(id=uuid.uuid4().hex[:12], mesh=mesh, name=checked.name, targets=checked.names,
                                   options=checked.options)
            if args.split:
                request.render_size = args.render_size or 0
            else:
                request.mode, request.image = "model", str(checked.picture or "")
                request.mask, request.grid = str(args.mask or ""), args.grid or 0   # 0: the model's own
                request.max_parts, request.steps = args.max_parts or 0, args.part_steps
            copy = Path(mesh) if mesh and Path(mesh) != checked.mesh else None
            result = session_job.run_request(session, request, printer, interrupts,
                                             abandon=lambda abandon: _abandoning(abandon, copy))
    except ProtocolError as exc:
        return command_failed(printer, exc, interrupts)
    printer.finish()
    run_dir = Path(result.run_dir)
    for part in result.parts:
        if part.mesh is None:
            print(f"{part.name}: EMPTY: {part.empty_reason}")
        else:
            caps = f", {part.cap_faces:,} cap faces" if part.cap_faces else ""
            print(f"{part.name}: {run_dir / part.mesh} ({part.faces:,} faces{caps}"
                  f"{'' if part.closed else ', not closed'})")
    if result.combined:
        print(f"combined: {run_dir / result.combined}")
    if result.mask:
        print(f"part mask: {run_dir / result.mask}")
    print(f"note: {result.note}")
    if result.model:
        print(f"seed: {result.seed}")
    print(f"run folder: {run_dir}")
    return EXIT_PARTIAL if result.empty else EXIT_OK
