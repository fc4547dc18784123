"""``rig MESH [--weights RIGGER] [--models default|tiny] [--skeleton FILE] [--also MESH] [--humanoid-names/--no-...]``:
a mesh file given a skeleton and skin weights as a GLB with a glTF skin: by a rigger's model or by the geometric
binding (no model), which also stands in where the model cannot run, said in one sentence. The riggers are the
protocol's rows (``img23d_protocol.riggers``: what the add-on offers too).

The command builds the protocol's ``RigRequest`` and runs it through ``Session`` (``session_job``) as the add-on's
request runs (``jobs/kinds/rig.py``): one request and one result for both ways in. A rig reads no model of the set (its
rigger's model is registered on first use, its tiny replica written on its own), so the session builds none of the
tiny set's replicas for it (``Session(..., tiny_set=False)``).

As every command: earlier runs a killed process left ``running`` are closed first (``recover_interrupted``),
and Ctrl-C or SIGTERM cancels the rig (``env.interrupts``: no traceback, the run closed ``cancelled``, its
reserve file gone, exit 130 or 143); one that does not stop between its steps within the grace is closed
by the signal's watcher, which ends the process.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from img23d_protocol import (DEFAULT_RIGGER, RIGGERS, ErrorCode, JobOptions, ProtocolError, RigJobResult, RigRequest,
                             validate_levels)

from ..env.interrupts import Interrupts
from ..readers.meshes import check_mesh_path
from .options import EXIT_OK, refused_usage
from .progress import ProgressPrinter, log_to_stderr


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
    request = RigRequest(id=uuid.uuid4().hex[:12], mesh=str(args.mesh), name=args.name or args.mesh.stem or "mesh",
                         weights=args.weights, humanoid_names=args.humanoid_names,
                         skeleton_file=str(args.skeleton or ""), also=[str(level) for level in args.also],
                         options=JobOptions(seed=args.seed))
    try:
        check_mesh_path(args.mesh)
        if args.skeleton is not None and not args.skeleton.is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no skeleton file at {args.skeleton}")
        for other in args.also:
            check_mesh_path(other)
        validate_levels(request.also)
    except ProtocolError as exc:
        return refused_usage(exc)
    log_to_stderr(args.verbose)
    printer = ProgressPrinter(sys.stderr)
    # From here a Ctrl-C or SIGTERM cancels the rig, or ends a start-up that has not begun one.
    with Interrupts() as interrupts:
        from ..session import Models   # NumPy, SciPy, trimesh, the engine: seconds, a signal's window
        from . import session_job

        result = session_job.run_command(args.out, Models(models=args.models), request, printer, interrupts,
                                         RigJobResult, tiny_set=False)
    if isinstance(result, int):
        return result   # stopped or failed, said already
    run_dir = Path(result.run_dir)
    for note in result.notes:
        print(f"note: {note}")
    names = [bone.name for bone in result.bones]
    print(f"bones: {len(names)} ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
    print(f"rigged: {run_dir / result.rigged} ({result.vertices:,} vertices, {result.timings.get('total', 0.0):.1f} s)")
    for lod in result.lods:
        print(f"also rigged: {run_dir / lod} (the same skeleton, the weights carried to it)")
    print(f"run folder: {run_dir}")
    return EXIT_OK
