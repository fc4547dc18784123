"""The rest of the chain from the command line: ``retexture MESH IMAGE``, ``retopo MESH`` and ``relayout RUN_DIR``.

``retexture`` is the add-on's Re-texture (``api.Session.retexture``): the mesh keeps its
topology and UVs (a mesh without UVs gets new ones), and comes back as a textured GLB too; ``retopo`` is
Retopologize Selected (``api.Session.retopo``): the mesh remade as quads or triangles, its colour and a
normal map baked, no model loaded; ``relayout`` places a Generate run's
objects again for another field of view or ground setting (``layout/relayout.py``), without generating.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path
from typing import Callable

from img23d_protocol import SIDES, ErrorCode, ProtocolError, check_budget_gb, dumps, validate_side_views

from ..env.interrupts import Interrupts
from ..readers.meshes import check_mesh_path
from ..runs.folders import recover_interrupted
from .options import (EXIT_OK, add_finish_options, add_job_options, add_paint_options, check_picture_path,
                      finish_options, job_options, said_failure)
from .progress import command_failed, command_job, log_to_stderr

COMMANDS = ("retexture", "retopo", "relayout")


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]",
                common: Callable[[argparse.ArgumentParser], None]) -> None:
    tex = sub.add_parser("retexture", help="paint a mesh (GLB, OBJ, PLY) from a picture; its topology and UVs stay")
    tex.add_argument("mesh", type=Path)
    tex.add_argument("image", type=Path)
    tex.add_argument("--name", default="", help="the object's name, for file names (default: the mesh file's)")
    tex.add_argument("--view", action="append", default=[], metavar="SIDE=PATH",
                     help=f"another picture of the object, from its {', '.join(SIDES)} (repeatable): each is projected "
                          "onto the texture with IMAGE after painting (sides as in the guide's views page)")
    common(tex)
    add_job_options(tex, game_ready=False, hidden=False)  # re-texturing paints the mesh as it is
    top = sub.add_parser("retopo", help="remake a mesh (GLB, OBJ, PLY) as quads or triangles, its colour and a "
                                        "normal map baked onto it; no model is loaded")
    top.add_argument("mesh", type=Path)
    top.add_argument("image", type=Path, nargs="?", default=None,
                     help="a picture to paint the mesh from first (as retexture does: this loads the matting and "
                          "paint models); without it, the mesh's own colour is baked, when it has one")
    top.add_argument("--name", default="", help="the object's name, for file names (default: the mesh file's)")
    common(top)
    add_finish_options(top, topology="quads")
    add_paint_options(top.add_argument_group("painting from IMAGE"))
    lay = sub.add_parser("relayout", help="place a Generate run's objects again (camera and placements in "
                                          "RUN_DIR/relayout.json); nothing is generated")
    lay.add_argument("run_dir", type=Path)
    lay.add_argument("--fov", type=float, default=None, help="field of view in degrees (default: the run's)")
    lay.add_argument("--no-estimate-fov", action="store_true", help="use --fov even where the depth model estimated one")
    lay.add_argument("--no-ground", action="store_true", help="do not stand the objects on one floor")
    lay.add_argument("--json", action="store_true", help="print the layout as JSON")


def run(args: argparse.Namespace) -> int:
    if args.command == "relayout":
        return _relayout(args)
    log_to_stderr(args.verbose)
    with Interrupts() as interrupts:
        return _retopo(args, interrupts) if args.command == "retopo" else _retexture(args, interrupts)


def _retexture(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from ..session import Models, Session

    job = command_job(f"retexture-{uuid.uuid4().hex[:12]}", interrupts)
    printer = job.emit
    try:
        check_budget_gb(args.budget_gb)
        check_mesh_path(args.mesh)  # before the models load: a wrong file is said at once
        check_picture_path(args.image)
        views = side_views(args.view)
        options = job_options(args)
        options.texture = True  # re-texturing is painting
        session = Session(args.out, Models.from_args(args))
        recover_interrupted(session.engine.settings.runs_dir)  # as every command: killed runs say so
        result = session.retexture(args.mesh, args.image, options, name=args.name or args.mesh.stem or "mesh",
                                   job=job, views=views)
    except ProtocolError as exc:
        return command_failed(printer, exc, interrupts)
    printer.finish()
    print(f"mesh: {result.mesh}")
    if views:
        print(views_sentence(result.views_used))
        for sentence in result.views_left_out.values():
            print(sentence)
    print(f"texture: {result.texture}")
    if result.metallic_roughness is not None:
        print(f"metallic-roughness: {result.metallic_roughness}")
    if result.materials_skipped:
        print(result.materials_skipped)
    if result.uvs is not None:
        print(f"new UVs (the mesh had none; one per triangle corner): {result.uvs}")
    print(f"run folder: {result.run_dir}")
    return EXIT_OK


def side_views(given: list[str]) -> dict[str, str]:
    """``--view SIDE=PATH`` arguments as {side: path}; a wrong form, side or missing file is one sentence
    (``bad_request``), before any model loads."""
    views: dict[str, str] = {}
    for text in given:
        side, equals, path = text.partition("=")
        if not equals or not side.strip() or not path.strip():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"--view {text!r} must be SIDE=PATH, e.g. back=back.jpg "
                                                       f"(sides {', '.join(SIDES)})")
        side = side.strip().casefold()
        if side in views:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"two --view {side}= pictures: give one picture a side")
        views[side] = path.strip()
    checked = validate_side_views(views, "the mesh")
    for side, path in checked.items():
        if not Path(path).is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no picture file at {path} for --view {side}")
    return checked


def _retopo(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from ..session import Models, Session

    job = command_job(f"retopo-{uuid.uuid4().hex[:12]}", interrupts)
    printer = job.emit
    try:
        check_budget_gb(args.budget_gb)
        check_mesh_path(args.mesh)
        check_picture_path(args.image)
        options = finish_options(args)
        session = Session(args.out, Models.from_args(args))
        recover_interrupted(session.engine.settings.runs_dir)  # as every command: killed runs say so
        result = session.retopo(args.mesh, options, name=args.name or args.mesh.stem or "mesh", image=args.image,
                                job=job)
    except ProtocolError as exc:
        return command_failed(printer, exc, interrupts)
    printer.finish()
    finish = result.finish
    made = f"{finish['quads']:,} quads" if finish["quads"] else f"{finish['faces_out']:,} triangles"
    print(f"mesh: {result.mesh} ({made}, {finish['faces_in']:,} faces in, {finish['method']})")
    if result.painted is not None:
        print(f"painted from {args.image}: {result.painted.mesh} (run folder {result.painted.run_dir})")
    print(f"high mesh: {result.high_mesh}")
    if result.fallback:
        print(result.fallback)
    print(f"run folder: {result.run_dir}")
    return EXIT_OK


def _relayout(args: argparse.Namespace) -> int:
    from ..layout.relayout import relayout

    try:
        result = relayout(args.run_dir, fov_degrees=args.fov, estimate_fov=False if args.no_estimate_fov else None,
                          ground=False if args.no_ground else None)
    except ProtocolError as exc:
        return said_failure(exc)
    if args.json:
        print(dumps({"camera": result.camera, "placements": result.placements, "settings": result.settings}))
        return EXIT_OK
    print(f"field of view {result.camera['fov_degrees']:g} degrees, "
          f"{'on one floor' if result.settings['ground'] else 'without a floor'}")
    for stem, place in result.placements.items():
        x, y, z = place["location"]
        print(f"{stem}: at ({x:.3f}, {y:.3f}, {z:.3f}), scale {place['scale']:.3f}, yaw {place['yaw']:.3f}")
    print(f"written: {result.written}")
    return EXIT_OK


__all__ = ["COMMANDS", "add_parsers", "run"]


def views_sentence(used: list[str]) -> str:
    """Which sides' pictures coloured the mesh. With none used (each was left out, and said so in its own
    sentence after this one) it says so, rather than building "its no side" from an empty list."""
    if used:
        return f"coloured from the pictures of its {', '.join(used)}"
    return "coloured from none of the pictures given: each side's was left out"
