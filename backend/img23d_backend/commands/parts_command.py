"""``parts MESH --split --names "shade, arm, base"``: a mesh file cut into one part per name
(``jobs/parts_split.py``), with the grounding and matting models and img23d's own rasterizer.

``--split`` is the one mode of this build, and so required: AutoPartGen's modes (parts drawn from a
picture or a mask) are to come under the same command with flags of their own.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from img23d_protocol import ErrorCode, PartsRequest, ProtocolError, check_budget_gb

from ..env.interrupts import Interrupts, exit_code
from ..part_split.names import part_names
from ..readers.meshes import artist_mesh_file, check_mesh_path
from ..runs.folders import recover_interrupted
from .options import usage_message
from .progress import ProgressPrinter, log_to_stderr

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
SPLIT_ONLY = ("parts needs --split in this build: --split --names \"shade, arm, base\" cuts MESH into one part "
              "per name (AutoPartGen's modes are not in this build yet)")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
               common: Callable[[argparse.ArgumentParser], None]) -> None:
    parts = sub.add_parser("parts", help="cut a mesh (GLB, OBJ, PLY) into named parts: --split --names \"a, b\"",
                           description="With --split: render the mesh from several sides, find each name on each "
                                       "render (grounding) and cut it out (matting), give every face one name and "
                                       "cut the mesh by name, each cut closed by a flat cap. Each part is the "
                                       "mesh's own faces: no hidden geometry is invented.")
    parts.add_argument("mesh", type=Path)
    parts.add_argument("--split", action="store_true", help="split the mesh by names (the one mode of this build)")
    parts.add_argument("--names", default="", help='comma-separated part names, e.g. "shade, arm, base"')
    parts.add_argument("--name", default="", help="the object's name, for file names (default: the mesh file's)")
    parts.add_argument("--render-size", type=int, default=None, metavar="PIXELS",
                       help="side of the renders the models read (default 512)")
    common(parts)


def run(args: argparse.Namespace) -> int:
    """Run ``parts`` from parsed arguments; its exit code (0 every part made, 3 some part empty)."""
    try:
        request = _request(args)
    except ProtocolError as exc:
        print(f"error: {usage_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    log_to_stderr(args.verbose)
    with Interrupts() as interrupts:
        return _split(args, request, interrupts)


def _request(args: argparse.Namespace) -> "PartsArguments":
    """The command line checked before anything loads: the mode, the names, the mesh file."""
    if not args.split:
        raise ProtocolError(ErrorCode.BAD_REQUEST, SPLIT_ONLY)
    names = part_names(args.names)
    check_budget_gb(args.budget_gb)
    check_mesh_path(args.mesh)
    return PartsArguments(names, args.name or args.mesh.stem or "mesh")


@dataclass(frozen=True)
class PartsArguments:
    """The checked part names and the object's name (for file names)."""

    names: list[str]
    name: str


def _split(args: argparse.Namespace, checked: PartsArguments, interrupts: Interrupts) -> int:
    from ..jobs import Job
    from ..session import Models, Session

    printer = ProgressPrinter(sys.stderr)
    try:
        session = Session(args.out, Models.from_args(args))
        recover_interrupted(session.engine.settings.runs_dir)  # as every command: killed runs say so
        with artist_mesh_file(args.mesh) as npz:
            request = PartsRequest(id=uuid.uuid4().hex[:12], mesh=str(npz), name=checked.name,
                                   targets=checked.names, render_size=args.render_size or 0)
            job = Job(id=request.id, emit=printer, cancel=interrupts.token)
            interrupts.abandon = job.abandon
            result = session.engine.run(request, job)
    except ProtocolError as exc:
        printer.finish()
        print(f"error: {usage_message(exc)} [{exc.code.value}]", file=sys.stderr)
        if printer.run_dir:
            print(f"run folder (kept): {printer.run_dir}", file=sys.stderr)
        if exc.code is ErrorCode.CANCELLED and interrupts.signal is not None:
            return exit_code(interrupts.signal)
        return EXIT_USAGE if exc.code is ErrorCode.BAD_REQUEST else EXIT_FAILED
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
    print(f"note: {result.note}")
    print(f"run folder: {run_dir}")
    return EXIT_PARTIAL if result.empty else EXIT_OK
