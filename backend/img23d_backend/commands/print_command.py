"""``print RUN_OR_MESH --height-mm H [--object NAME] [--only NAME]... [--hollow] [--wall-mm W] ...``: a mesh, or a
Generate run as one plate, made watertight and written to scale in millimetres as a 3MF and binary STLs, with a
``print.json`` record (``printing``, docs/print.md).

The command builds the protocol's ``PrintRequest`` from its flags (the request the add-on's Print Selected sends,
``jobs.kinds.prints``), checks its settings as the protocol does, naming each setting by its flag, and runs it in
this process (``printing.request.make_print``): no model is loaded. Each object is one line; each that could not
be printed, each note and each failed check is one sentence. Exit codes as every command's: 0 everything was
printed and proved, 3 some objects were not, or failed a check of a file read back (the rest were written), 2 the
arguments or the input were refused (nothing written), 1 the files could not be written (a full disk: what was
written is taken away, nothing kept); Ctrl-C or SIGTERM before the files are written stops it
with nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from img23d_protocol import ErrorCode, PrintRequest, ProtocolError, check_print_settings
from img23d_protocol.prints import DEFAULTS

from ..env.interrupts import Interrupts, exit_code
from .options import EXIT_OK, EXIT_PARTIAL, refused_usage, said_failure
from .progress import log_to_stderr


def flag(name: str) -> str:
    """How the command line names a setting in a refusal: ``height_mm`` is ``--height-mm``."""
    return "--" + name.replace("_", "-")


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    cmd = sub.add_parser("print", help="make a mesh or a Generate run printable: watertight, to scale in "
                                       "millimetres, as a 3MF and STLs",
                         description="Make each object watertight and manifold, stand it on a flat base, scale the "
                                     "plate so that one object is --height-mm tall (the others keep their sizes as "
                                     "the run's layout placed them), optionally hollow it, and write plate.3mf, one "
                                     "binary STL per object and print.json into a new print/ folder in the run.")
    cmd.add_argument("source", type=Path, metavar="RUN_OR_MESH",
                     help="a Generate run folder (its objects printed as one plate) or one mesh file (GLB, glTF, "
                          "OBJ, PLY)")
    cmd.add_argument("--height-mm", type=float, required=True,
                     help="the printed height in millimetres of --object (of the tallest object without it)")
    cmd.add_argument("--object", default="", metavar="NAME",
                     help="in a run: the object whose height --height-mm gives (its name or file stem)")
    cmd.add_argument("--only", action="append", default=[], metavar="NAME",
                     help="in a run: print only this object (repeatable); default: every finished object")
    cmd.add_argument("--hollow", action="store_true", help="hollow each object to a wall of --wall-mm, with drain "
                                                           "holes (for resin printing; a slicer's infill does this "
                                                           "for filament)")
    cmd.add_argument("--wall-mm", type=float, default=DEFAULTS["wall_mm"],
                     help="the hollow's wall (default %(default)s)")
    cmd.add_argument("--drain-holes", type=int, default=DEFAULTS["drain_holes"],
                     help="drain holes through the base into the hollow (default %(default)s)")
    cmd.add_argument("--drain-mm", type=float, default=DEFAULTS["drain_mm"],
                     help="the drain holes' diameter (default %(default)s)")
    cmd.add_argument("--base-mm", type=float, default=DEFAULTS["base_mm"],
                     help="cut this much off each object's bottom for a flat base to stand on; 0 for none "
                          "(default %(default)s)")
    cmd.add_argument("--thin-mm", type=float, default=DEFAULTS["thin_mm"],
                     help="report walls thinner than this (default %(default)s: two lines of a 0.4 mm nozzle)")
    cmd.add_argument("--out", type=Path, default=Path("img23d-runs"),
                     help="for a mesh of no run: the folder that keeps run folders (a new one holds the print)")
    cmd.add_argument("-v", "--verbose", action="store_true", help="say each step on stderr")


def run(args: argparse.Namespace) -> int:
    """Run ``print`` from parsed arguments; its exit code."""
    from ..printing.request import make_print  # NumPy, trimesh, manifold3d, lib3mf: once checked

    request = PrintRequest(source=str(args.source), height_mm=args.height_mm, object=args.object, only=list(args.only),
                           hollow=args.hollow, wall_mm=args.wall_mm, drain_holes=args.drain_holes,
                           drain_mm=args.drain_mm, base_mm=args.base_mm, thin_mm=args.thin_mm)
    try:
        check_print_settings(request.settings(), flag)
        if not args.source.exists():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no run folder or mesh file at {args.source}")
    except ProtocolError as exc:
        return refused_usage(exc)
    log_to_stderr(args.verbose)

    def say(step: str) -> None:
        if args.verbose:
            print(step, file=sys.stderr, flush=True)

    with Interrupts() as interrupts:
        try:
            result = make_print(request, args.out, say, interrupts.token.check)
        except ProtocolError as exc:
            if exc.code is ErrorCode.CANCELLED and interrupts.signal is not None:
                print(f"{interrupts.name}: the print stopped; nothing was written", file=sys.stderr)
                return exit_code(interrupts.signal)
            return said_failure(exc)
    record = result.record
    for item in record.objects:
        if item.printed and item.size_mm is not None:
            x, y, z = item.size_mm
            hollow = " hollow," if item.hollow and item.hollow.hollow else ""
            wall = f", thinnest wall {item.thinnest_wall_mm:.2f} mm" if item.thinnest_wall_mm is not None else ""
            print(f"{item.name}: {x:.1f} x {y:.1f} x {z:.1f} mm,{hollow} {item.volume_mm3 or 0:,.0f} mm3, watertight"
                  f"{wall}; {item.stl}" + (f" (repaired: {'; '.join(item.repairs)})" if item.repairs else ""))
    for sentence in result.said:
        print(sentence)
    if record.threemf:
        print(f"3MF (millimetres): {result.folder / record.threemf}")
    print(f"print folder: {result.folder}")
    return EXIT_OK if not result.refused and record.all_passed else EXIT_PARTIAL
