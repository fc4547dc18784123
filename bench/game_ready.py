"""Game-ready finishing (issues 44, 54), measured as the user gets it: the ``retopo`` command's quads
and triangles beside Blender's QuadriFlow and Decimate, on the same meshes, at 2k, 5k and 10k faces.

The set (``game_ready_inputs.py``): generated meshes (the bundled example, the real Hunyuan3D-2
output where ``../shared/data`` has it, the seeded "AI-like" meshes) and scanned ones no one here
made (the Stanford bunny and the armadillo from Debian's libcgal-demo, skipped, saying so, where
absent), each given a colour: a 1024 px texture, or glTF COLOR_0 vertex colours for some (the
Hunyuan3D-2 mesh stays grey). Each coloured mesh is written as a GLB and given, as a file, to

    python -m img23d_backend retopo MESH.glb --topology quads|triangles --faces N --bake-size 1024

in a process of its own, as a user runs it; the finished GLB it writes is what is measured (its
triangles; its quad count from the run's manifest). **Orderings**: the quads are made again from
``--orderings`` - 1 renumbered copies of the same file (vertices and faces shuffled), and the
spread of their Hausdorff distances (min, median, max) is reported beside the first's.

* **QuadriFlow** (Blender's operator, as pressed) and **QuadriFlow after Merge by Distance**
  (its usual workaround), and **Decimate** (the modifier, Collapse): see ``game_ready_blender.py``
  (``--no-blender`` leaves them out).

Measured for each: success (a result at all; within 50 % of the target; no blow-up: no vertex further
than 10 % of the diagonal outside the input's bounding box; for img23d quads, the announced fallback
counts as a success, as the issue says), seconds (the command's finish as its manifest times it, and
the whole command with Python's start), faces against the target, quad share, open and non-manifold
edges, and the symmetric Hausdorff and Chamfer distances as shares of the bounding-box diagonal
(``mesh_distance.py``). For img23d's results, the PSNR between Cycles renders of the coloured input
and of the finished GLB from five cameras (``game_ready_blender.py``).

    .venv/bin/python bench/game_ready.py [--targets 5000 2000 10000] [--orderings 3] [--only NAME ...]
        [--no-blender] [--cgal-data data.tar.gz] [--budget-s 1500] [--json bench/results/game-ready-cpu.json]
        [--no-psnr] [--topologies quads]

Targets run in the order given, each over the whole set; when ``--budget-s`` is spent no new
(mesh, target) starts, and the JSON says which were left out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from game_ready_inputs import Input, high_file, load, mesh_set, shuffled  # noqa: E402
from mesh_distance import distances  # noqa: E402

from img23d_backend.finish.quad_mesh import edge_use  # noqa: E402
from img23d_backend.models.throughput import processor  # noqa: E402

BAKE_SIZE = 1024
FAR_OFF, BLOW_UP = 0.5, 0.10
COMMAND_TIMEOUT = 600
METHOD = {  # written into the JSON, so the file says how its figures were made
    "success": "a result; within 50 % of the target; no vertex further than 10 % of the diagonal outside the "
               "input's bounding box; QuadriFlow's refusal (the operator's CANCELLED) is a failure; img23d quads' "
               "announced fallback to triangles counts as a success, as the issue says",
    "distances": "bench/mesh_distance.py: exact point-to-triangle distances (k-d tree over a grid of points on the "
                 "other surface, the 4 nearest grid points' triangles measured exactly) from a grid of points on "
                 "each surface whose sub-triangle edges are at most 0.4 % of the diagonal; each one-sided maximum "
                 "is within 0.4 % of the diagonal of the true one; Chamfer: area-weighted means, both ways, averaged; "
                 "between the input as its file holds it and the finished GLB the command wrote",
    "psnr": "Cycles, 256 px, 16 samples, no bounces, two sun lamps, black world, Standard view; four cameras "
            "around at 20 degrees and one above; PSNR over the pixels either render covers (colour premultiplied "
            "by coverage), all five views together; the coloured input GLB against the finished GLB",
    "seconds": "img23d: the retopo command run as a user runs it (python -m img23d_backend retopo FILE ...); "
               "'seconds' is its finish as the manifest times it (remesh, bake with its own UV worker, GLB), "
               "'command_s' the whole process with Python's start and imports; Blender: the operator or the "
               "modifier's evaluation only",
    "orderings": "the quads made again from renumbered copies of the same GLB (vertices with their UVs or colours "
                 "and faces shuffled, each face started at another corner); hausdorff_orderings lists every "
                 "ordering's Hausdorff distance, the first being the file as made",
    "input": "each mesh as its file holds it (no clean-up: floaters included), coloured, as the retopo command takes it",
}


def run_command(glb: Path, topology: str, target: int, out: Path, name: str) -> tuple[dict, Path | None]:
    """The ``retopo`` command on ``glb``, in a process of its own: its manifest's finish entry (with
    ``command_s``) and the finished GLB, or the error it printed and None."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "backend"), str(REPO / "protocol"),
                                                        os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "img23d_backend", "retopo", str(glb), "--name", name,
                           "--out", str(out), "--topology", topology, "--faces", str(target),
                           "--bake-size", str(BAKE_SIZE), "--device", "cpu"],
                          capture_output=True, text=True, env=env, timeout=COMMAND_TIMEOUT)
    seconds = time.perf_counter() - started
    made = sorted(set(out.iterdir()) - before)
    if done.returncode != 0 or not made:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"command_s": round(seconds, 2), "error": said}, None
    record = json.loads((made[0] / "manifest.json").read_text())["records"][0]
    finish = dict(record["finish"], command_s=round(seconds, 2))
    return finish, made[0] / record["mesh"]


def welded(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A finished GLB's triangles on welded positions (it is split along its UV seams)."""
    mesh = trimesh.load(path, force="mesh", process=False)
    points, index = np.unique(np.asarray(mesh.vertices, dtype=np.float64), axis=0, return_inverse=True)
    return points, index.reshape(-1)[np.asarray(mesh.faces)]


def check(vertices: np.ndarray, faces: np.ndarray, out_vertices: np.ndarray, triangles: np.ndarray,
          faces_out: int, target: int, edges_of: np.ndarray) -> tuple[bool, str, dict]:
    """Success as the bench defines it (see the module's docstring), and the mesh's edge counts."""
    counts = edge_use(edges_of) if len(edges_of) else np.zeros(0, int)
    facts = {"open_edges": int(np.sum(counts == 1)), "non_manifold_edges": int(np.sum(counts > 2))}
    if faces_out == 0:
        return False, "no result", facts
    if abs(faces_out - target) > FAR_OFF * target:
        return False, f"{faces_out:,} faces, far from {target:,}", facts
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    diagonal = float(np.linalg.norm(high - low))
    outside = np.maximum(np.maximum(low - out_vertices, out_vertices - high), 0.0).max() / diagonal
    if outside > BLOW_UP:
        return False, f"blew up: a vertex {100 * outside:.0f} % of the diagonal outside the input's box", facts
    return True, "", facts


def run_img23d(glb: Path, vertices: np.ndarray, faces: np.ndarray, topology: str, target: int,
               out: Path) -> tuple[dict, Path | None]:
    finish, low = run_command(glb, topology, target, out, "low")
    if low is None:
        row = {"method": f"img23d {topology}", "ok": False, "why": finish["error"], "status": "error",
               "faces_out": 0, "quad_share": 0.0, "seconds": None, "command_s": finish["command_s"]}
        return _measured(row, vertices, faces, np.zeros((0, 3)), np.zeros((0, 3), int), target), None
    out_v, triangles = welded(low)
    quads = int(finish["quads"])
    edges_of = triangles
    if quads:  # quad k is triangles 2k and 2k + 1: the quads' own edges, without their diagonals
        pairs = triangles[:2 * quads].reshape(quads, 6)
        edges_of = np.array([_quad_of(p) for p in pairs.tolist()], dtype=np.int64)
    ok, why, facts = check(vertices, faces, out_v, triangles, finish["faces_out"], target, edges_of)
    row = {"method": f"img23d {topology}", "ok": ok, "why": why, "status": finish["method"],
           "fallback": finish["fallback"], "faces_out": finish["faces_out"],
           "quad_share": round(quads / max(finish["faces_out"], 1), 4), "seconds": finish["seconds"],
           "command_s": finish["command_s"], "texels_by_nearest": finish["texels_by_nearest"], **facts}
    return _measured(row, vertices, faces, out_v, triangles, target), low


def _quad_of(pair: list[int]) -> list[int]:
    """The quad two triangles of a pair make (the corner of the second not in the first goes between
    the two they share, as the add-on rebuilds it)."""
    first, second = pair[:3], pair[3:]
    [extra] = [v for v in second if v not in first] or [first[0]]
    for i in range(3):
        a, b = first[i], first[(i + 1) % 3]
        if a in second and b in second:
            return first[:i + 1] + [extra] + first[i + 1:]
    return first + [extra]


def shape_of(polygons: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Fan triangles of any polygons, and how many were quads."""
    triangles = [np.stack([p[0].repeat(len(p) - 2), p[1:-1], p[2:]], axis=1) for p in polygons if len(p) >= 3]
    return (np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64)), sum(len(p) == 4 for p in polygons)


def run_blender(name: str, remesh, vertices: np.ndarray, faces: np.ndarray, target: int) -> dict:
    result = remesh()
    triangles, quads = shape_of(result.polygons)
    faces_out = len(result.polygons)
    ok, why, facts = check(vertices, faces, result.vertices, triangles, faces_out, target,
                           triangles if quads < faces_out else np.asarray(result.polygons))
    if not result.ok:
        ok, why = False, result.status
    row = {"method": name, "ok": ok and result.ok, "why": why or ("" if result.ok else result.status),
           "status": result.status, "faces_out": faces_out, "quad_share": round(quads / max(faces_out, 1), 4),
           "seconds": round(result.seconds, 3), **facts}
    return _measured(row, vertices, faces, result.vertices, triangles, target) if row["ok"] else row


def _measured(row: dict, vertices: np.ndarray, faces: np.ndarray, out_vertices: np.ndarray, triangles: np.ndarray,
              target: int) -> dict:
    row["off_target"] = round((row["faces_out"] - target) / target, 4)
    if row["ok"]:
        d = distances(vertices, faces, out_vertices, triangles)
        row.update(hausdorff=round(d.hausdorff, 5), chamfer=round(d.chamfer, 6), distance_bound=d.bound)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[5000, 2000, 10000])
    parser.add_argument("--orderings", type=int, default=3, help="vertex orderings of each input for the quads")
    parser.add_argument("--only", nargs="*", default=None, help="mesh names to run, in this order (default: the whole set)")
    parser.add_argument("--no-blender", action="store_true", help="leave QuadriFlow and Decimate out")
    parser.add_argument("--cgal-data", type=Path, default=None, help="CGAL's data.tar.gz (Debian's libcgal-demo)")
    parser.add_argument("--budget-s", type=float, default=1e9, help="start no new (mesh, target) after this")
    parser.add_argument("--renders", type=Path, default=None, help="keep the renders here")
    parser.add_argument("--no-psnr", action="store_true",
                        help="leave the Cycles renders out (distances only: minutes less per mesh on a loaded CPU)")
    parser.add_argument("--topologies", nargs="+", choices=("quads", "triangles"), default=["quads", "triangles"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    import game_ready_blender as blender  # bpy: imported here, not when a spawned worker re-imports this file

    started = time.perf_counter()
    record = {"device": f"CPU {processor().model}, {os.cpu_count()} cores (shared)",
              "load_average_start": os.getloadavg(), "versions": versions(blender.version()),
              "targets": args.targets, "orderings": args.orderings, "bake_size": BAKE_SIZE, "method": METHOD,
              "topologies": args.topologies, "psnr": not args.no_psnr, "runs": [], "left_out": []}
    with tempfile.TemporaryDirectory(prefix="img23d-game-ready-") as scratch:
        work = Path(scratch)
        inputs, record["notes"] = mesh_set(work, args.cgal_data)
        if args.only:  # in the order given, so a short budget spends itself on the meshes named first
            inputs = [i for name in args.only for i in inputs if i.name == name]
        highs: dict[str, tuple] = {}
        for target in args.targets:
            for item in inputs:
                if time.perf_counter() - started > args.budget_s:
                    record["left_out"].append({"mesh": item.name, "target": target})
                    continue
                if item.name not in highs:
                    highs[item.name] = _prepare(item, work, args, blender)
                vertices, faces, glb, copies, views, high_images = highs[item.name]
                out = work / "out" / _slug(item.name) / str(target)
                rows = []
                for topology in args.topologies:
                    row, low = run_img23d(glb, vertices, faces, topology, target, out / topology)
                    if low is not None and not args.no_psnr:
                        low_images = blender.render_glb(low, views, _keep(args.renders, item.name,
                                                                          f"{topology}-{target}"))
                        psnr, per_view = blender.psnr(high_images, low_images)
                        row["psnr_db"], row["psnr_per_view_db"] = round(psnr, 2), [round(p, 2) for p in per_view]
                    if topology == "quads":
                        _orderings(row, copies, vertices, faces, target, out)
                    rows.append(row)
                if not args.no_blender:
                    rows.extend(_blender_rows(blender, vertices, faces, target))
                for row in rows:
                    row.update(mesh=item.name, origin=item.origin, colour=item.colour, faces_in=int(len(faces)),
                               target=target, load_average=os.getloadavg()[0])
                    record["runs"].append(row)
                    print(summary(row), flush=True)
                if args.json:
                    write(args.json, record, started)
    if args.json:
        write(args.json, record, started)
    return 0


def _prepare(item: Input, work: Path, args: argparse.Namespace, blender) -> tuple:
    """An input's surface, its coloured GLB and renumbered copies, and the renders of the coloured GLB."""
    vertices, faces = load(item.source)
    glb = work / "inputs" / f"{_slug(item.name)}.glb"
    mesh = high_file(item, vertices, faces, glb)
    copies = [shuffled(mesh, seed, glb.with_name(f"{glb.stem}-order{seed}.glb")) for seed in range(1, args.orderings)]
    views = views_for(vertices)
    high_images = None if args.no_psnr else blender.render_glb(glb, views, _keep(args.renders, item.name, "high"))
    return vertices, faces, glb, copies, views, high_images


def _orderings(row: dict, copies: list[Path], vertices: np.ndarray, faces: np.ndarray, target: int, out: Path) -> None:
    """The quads made again from each renumbered copy: every ordering's Hausdorff distance and their spread."""
    found = [row.get("hausdorff")]
    for k, copy in enumerate(copies, start=1):
        other, _ = run_img23d(copy, vertices, faces, "quads", target, out / f"order{k}")
        found.append(other.get("hausdorff"))
    row["hausdorff_orderings"] = found
    measured = [h for h in found if h is not None]
    if measured:
        row["hausdorff_spread"] = {"min": min(measured), "median": statistics.median(measured), "max": max(measured)}


def _blender_rows(blender, vertices: np.ndarray, faces: np.ndarray, target: int) -> list[dict]:
    return [run_blender("QuadriFlow", lambda: blender.quadriflow(vertices, faces, target, False), vertices, faces,
                        target),
            run_blender("QuadriFlow after Merge by Distance", lambda: blender.quadriflow(vertices, faces, target, True),
                        vertices, faces, target),
            run_blender("Decimate", lambda: blender.decimate(vertices, faces, target), vertices, faces, target)]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name.split(" (")[0]).strip("-")


def views_for(vertices: np.ndarray):
    import game_ready_blender as blender  # bpy, as in main()

    # glTF's (x, y, z), Y up, arrive in Blender as (x, -z, y)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2.0
    return blender.Views(centre=(float(centre[0]), float(-centre[2]), float(centre[1])),
                         radius=float(np.linalg.norm(high - low) / 2.0))


def _keep(folder: Path | None, name: str, what: str) -> Path:
    base = folder if folder is not None else Path(tempfile.gettempdir()) / "img23d-game-ready-renders"
    return base / _slug(name) / what


def versions(blender_version: str) -> dict:
    found = {"python": platform.python_version(), "blender (bpy)": blender_version}
    for package in ("numpy", "scipy", "trimesh", "scikit-image", "embreex", "pynanoinstantmeshes", "xatlas",
                    "fast-simplification"):
        found[package] = version(package)
    return found


def summary(row: dict) -> str:
    spread = row.get("hausdorff_spread")
    orders = (f" [orderings {100 * spread['min']:.2f}-{100 * spread['max']:.2f} %]" if spread else "")
    distance = f"Hausdorff {100 * row['hausdorff']:.2f} %, Chamfer {100 * row['chamfer']:.3f} %" if "hausdorff" in row else ""
    psnr = f", {row['psnr_db']:.1f} dB" if "psnr_db" in row else ""
    return (f"{row['mesh']:24s} {row['target']:6,d} {row['method']:36s} {'ok ' if row['ok'] else 'NO '}"
            f"{row['faces_out']:7,d} faces, quads {100 * row['quad_share']:5.1f} %, {row['seconds'] or 0:6.2f} s "
            f"{distance}{orders}{psnr} {row['why']} {row.get('fallback') or ''}")


def write(path: Path, record: dict, started: float) -> None:
    record["load_average_end"] = os.getloadavg()
    record["seconds"] = round(time.perf_counter() - started, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
