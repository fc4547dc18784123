"""``rig MESH [--weights RIGGER] [--models default|tiny] [--skeleton FILE] [--humanoid-names/--no-...]``:
a mesh file given a skeleton and skin weights as a GLB with a glTF skin (``jobs/rig.py``): by a rigger's model
or by the geometric binding (no model), which also stands in where the model cannot run, said in one
sentence. The riggers are the protocol's rows (``img23d_protocol.riggers``: what the add-on offers too).

As every command: earlier runs a killed process left ``running`` are closed first (``recover_interrupted``),
and Ctrl-C or SIGTERM cancels the rig (``env.interrupts``: no traceback, the run closed ``cancelled``, its
reserve file gone, exit 130 or 143); one that does not stop between its steps within the grace is closed
by the signal's watcher, which ends the process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from img23d_protocol import DEFAULT_RIGGER, RIGGERS, ErrorCode, ProtocolError

from ..env.interrupts import Interrupts, exit_code
from ..readers.meshes import check_mesh_path
from ..runs.folders import RunFolder, recover_interrupted
from .options import usage_message

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    rig = sub.add_parser("rig", help="give a mesh (GLB, OBJ, PLY) a skeleton and skin weights: a rigged GLB",
                         description="Give the mesh a skeleton (the file's given with --skeleton, else one the "
                                     "rigger makes) and skin weights, and write a GLB whose mesh has a glTF skin "
                                     "(JOINTS_0/WEIGHTS_0), its materials kept.")
    rig.add_argument("mesh", type=Path)
    rig.add_argument("--weights", default=DEFAULT_RIGGER, choices=tuple(RIGGERS),
                     help="how the skeleton and weights are found: " + "; ".join(
                         f"{name} ({row.description})" for name, row in RIGGERS.items())
                     + ". A model's rigger given a skeleton binds it by the geometric binding")
    rig.add_argument("--models", default="default", choices=("default", "tiny"),
                     help="a rigger's model's real weights from the hub, or its tiny offline replica (random weights)")
    rig.add_argument("--skeleton", type=Path, default=None, metavar="FILE",
                     help="a GLB/glTF whose first skin's joints are the skeleton to bind (its names kept)")
    rig.add_argument("--also", type=Path, action="append", default=[], metavar="MESH",
                     help="another level of detail of the same object (repeatable): given the same skeleton, its "
                          "weights carried from the rigged mesh by nearest surface, written as <its name>_rigged.glb")
    rig.add_argument("--humanoid-names", action=argparse.BooleanOptionalAction, default=True,
                     help="name a skeleton img23d makes as Mixamo does when it is a humanoid (default: on)")
    rig.add_argument("--seed", type=int, default=0, help="seed for riggers that draw (the geometric one does not)")
    rig.add_argument("--name", default="", help="the object's name, for file names (default: the mesh file's)")
    rig.add_argument("--out", type=Path, default=Path("img23d-runs"), help="folder that keeps one folder per run")
    rig.add_argument("-v", "--verbose", action="store_true", help="say each step on stderr")


def run(args: argparse.Namespace) -> int:
    """Run ``rig`` from parsed arguments; its exit code."""
    try:
        check_mesh_path(args.mesh)
        if args.skeleton is not None and not args.skeleton.is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no skeleton file at {args.skeleton}")
        for other in args.also:
            check_mesh_path(other)
    except ProtocolError as exc:
        print(f"error: {usage_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    say = (lambda text: print(text, file=sys.stderr)) if args.verbose else (lambda text: None)
    # From here a Ctrl-C or SIGTERM cancels the rig, or ends a start-up that has not begun one.
    with Interrupts() as interrupts:
        from ..jobs.rig import RigInput, run_rig  # NumPy, SciPy, trimesh: seconds, a signal's window

        if interrupts.signal is not None:
            print(f"{interrupts.name}: stopped before the job started; nothing was written", file=sys.stderr)
            return exit_code(interrupts.signal)
        request = RigInput(mesh=args.mesh, weights=args.weights, skeleton=args.skeleton,
                           humanoid_names=args.humanoid_names, seed=args.seed, name=args.name, models=args.models,
                           also=list(args.also))
        try:
            recover_interrupted(args.out)  # as every command: killed runs say so
            result = run_rig(request, args.out, say, interrupts.token,
                             lambda folder: setattr(interrupts, "abandon", _closer(folder)))
        except ProtocolError as exc:
            print(f"error: {usage_message(exc)} [{exc.code.value}]", file=sys.stderr)
            if exc.code is ErrorCode.CANCELLED and interrupts.signal is not None:
                return exit_code(interrupts.signal)
            return EXIT_USAGE if exc.code is ErrorCode.BAD_REQUEST else EXIT_FAILED
    run_dir = Path(result.run_dir)
    for note in result.notes:
        print(f"note: {note}")
    print(f"bones: {len(result.bones)} ({', '.join(result.bones[:8])}{', ...' if len(result.bones) > 8 else ''})")
    print(f"rigged: {run_dir / result.rigged} ({result.vertices:,} vertices, {result.seconds['total']:.1f} s)")
    for lod in result.lods:
        print(f"also rigged: {run_dir / lod} (the same skeleton, the weights carried to it)")
    print(f"run folder: {run_dir}")
    return EXIT_OK


def _closer(folder: RunFolder) -> Callable[[str], None]:
    """What the signal's watcher calls when the rig did not stop in time: the run closed ``cancelled``."""
    return lambda reason: folder.close_with("cancelled", {"code": ErrorCode.CANCELLED.value, "message": reason})
