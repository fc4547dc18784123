"""Game-ready finishing (issue 44), measured side by side: img23d's quads and triangles beside
Blender's QuadriFlow and Decimate, on the same meshes, at 2k, 5k and 10k faces.

The set: the bundled example mesh (``examples/house_mesh.glb``), the real Hunyuan3D-2 output where
``../shared/data`` has it (skipped, saying so, where not), and the "AI-like" meshes
``scripts/ai_like_meshes.py`` makes (marching cubes of noisy fields with a blade, a handle, a wire,
a shade and floaters; made here, seeded). Every mesh goes in as its file holds it, as
``python -m img23d_backend retopo MESH`` takes it (no clean-up first: floaters included).

Per mesh and face target:

* **img23d quads** and **img23d triangles**: ``finish.retopo.retopologize`` then ``finish.bake``
  (1024 px colour and normal maps, its own UV worker started for each bake, as the ``retopo``
  command does) and the finished GLB (``finish.glb``); seconds = remesh + bake + GLB.
* **QuadriFlow** (Blender's operator, as pressed) and **QuadriFlow after Merge by Distance**
  (its usual workaround), and **Decimate** (the modifier, Collapse): see ``game_ready_blender.py``.

Measured for each: success (a result at all; within 50 % of the target; no blow-up: no vertex further
than 10 % of the diagonal outside the input's bounding box; for img23d quads, the announced fallback
counts as a success, as the issue says), seconds, faces against the target, quad share, open and
non-manifold edges, and the symmetric Hausdorff and Chamfer distances as shares of the bounding-box
diagonal (``mesh_distance.py``: exact point-to-triangle distances on grids of known spacing, bound
stated). For img23d's results, the PSNR between Cycles renders of the high mesh (with its colour:
the example and the AI-like meshes are given a 1024 px procedural texture first, outside the
timing, so the colour transfer is measured; the Hunyuan3D mesh has none and is rendered grey, so
its figure measures the normal map and the shape) and of the low GLB with its baked maps, from five
cameras (``game_ready_blender.py``).

    .venv/bin/python bench/game_ready.py [--targets 5000 2000 10000] [--budget-s 1500] [--json bench/results/game-ready-cpu.json]

Targets run in the order given, each over the whole set; when ``--budget-s`` is spent no new
(mesh, target) starts, and the JSON says which were left out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ai_like_meshes  # noqa: E402
from mesh_distance import distances  # noqa: E402

from img23d_backend.finish.bake import BakeSettings, bake  # noqa: E402
from img23d_backend.finish.bake.dilate import dilate  # noqa: E402
from img23d_backend.finish.bake.uv_raster import rasterize_uv  # noqa: E402
from img23d_backend.finish.glb import write_finished_glb  # noqa: E402
from img23d_backend.finish.quad_mesh import edge_use  # noqa: E402
from img23d_backend.finish.retopo import RetopoSettings, retopologize  # noqa: E402
from img23d_backend.stages.paint.unwrap import unwrap_arrays  # noqa: E402

EXAMPLE = REPO / "examples" / "house_mesh.glb"
SHARED = REPO.parent / "shared" / "data"
HUNYUAN = "hunyuan3d_shape_output.glb"  # ../shared/data/SOURCES.md
TEXTURE = 1024
BAKE_SIZE = 1024
FAR_OFF, BLOW_UP = 0.5, 0.10
METHOD = {  # written into the JSON, so the file says how its figures were made
    "success": "a result; within 50 % of the target; no vertex further than 10 % of the diagonal outside the "
               "input's bounding box; QuadriFlow's refusal (the operator's CANCELLED) is a failure; img23d quads' "
               "announced fallback to triangles counts as a success, as the issue says",
    "distances": "bench/mesh_distance.py: exact point-to-triangle distances (k-d tree over a grid of points on the "
                 "other surface, the 4 nearest grid points' triangles measured exactly) from a grid of points on "
                 "each surface whose sub-triangle edges are at most 0.4 % of the diagonal; each one-sided maximum "
                 "is within 0.4 % of the diagonal of the true one; Chamfer: area-weighted means, both ways, averaged",
    "psnr": "Cycles, 256 px, 16 samples, no bounces, two sun lamps, black world, Standard view; four cameras "
            "around at 20 degrees and one above; PSNR over the pixels either render covers (colour premultiplied "
            "by coverage), all five views together",
    "seconds": "img23d: retopologize + bake (starting its own UV worker, as the retopo command) + GLB; Blender: "
               "the operator or the modifier's evaluation only",
    "input": "each mesh as its file holds it (no clean-up: floaters included), as the retopo command takes it",
}


def colour_of(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The procedural colour: a smooth gradient over the bounding box with stripes across it
    (five periods along the box's diagonal), so that both the broad colour and a detail a few
    texels wide must cross the bake."""
    t = (points - low) / (high - low)
    base = np.stack([t[:, 0], 0.5 + 0.4 * np.sin(6.0 * t[:, 1]), t[:, 2]], axis=1)
    stripes = 0.75 + 0.25 * np.sin(2.0 * np.pi * 5.0 * t.sum(axis=1) / 3.0)
    return (0.15 + 0.85 * base * stripes[:, None]).clip(0.0, 1.0)


def textured(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """The mesh on xatlas UVs with a ``TEXTURE`` px texture of ``colour_of``, as a painted mesh is."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    split, split_faces, uvs = unwrap_arrays(vertices, faces)
    cover = rasterize_uv(uvs, split_faces, TEXTURE)
    points = np.einsum("nk,nkd->nd", cover.bary, split[split_faces[cover.face]])
    pixels = np.zeros((TEXTURE, TEXTURE, 3))
    pixels[cover.rows, cover.cols] = colour_of(points, low, high)
    pixels, _ = dilate(pixels, cover.mask(), 4)
    image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), "RGB")
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, metallicFactor=0.0, roughnessFactor=1.0)
    return trimesh.Trimesh(split, split_faces, visual=trimesh.visual.TextureVisuals(uv=uvs, material=material),
                           process=False)


def grey(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """An uncoloured mesh, for its render, with the material a finished GLB gets when its high mesh had no
    colour (``finish.glb``), so both renders match. The bake reads the plain mesh: given this material
    it would bake the factor (linear in glTF) into an sRGB texture, a darker grey."""
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=[200, 200, 200, 255], metallicFactor=0.0,
                                                   roughnessFactor=1.0)
    return trimesh.Trimesh(vertices, faces, visual=trimesh.visual.TextureVisuals(material=material), process=False)


def mesh_set(work: Path) -> tuple[dict[str, Path], list[str]]:
    notes, meshes = [], {"example (house_mesh.glb)": EXAMPLE}
    if (SHARED / HUNYUAN).exists():
        meshes["hunyuan3d-2 output"] = SHARED / HUNYUAN
    else:
        notes.append(f"{SHARED / HUNYUAN} is not here: the real Hunyuan3D-2 mesh was skipped")
    ai_like_meshes.main([str(work / "ai-like")])
    for name in ai_like_meshes.SHAPES:
        meshes[name] = work / "ai-like" / f"{name}.glb"
    return meshes, notes


def shape_of(polygons: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Fan triangles of any polygons, and how many were quads."""
    triangles = [np.stack([p[0].repeat(len(p) - 2), p[1:-1], p[2:]], axis=1) for p in polygons if len(p) >= 3]
    return (np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64)), sum(len(p) == 4 for p in polygons)


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


def run_img23d(high: trimesh.Trimesh, vertices: np.ndarray, faces: np.ndarray, topology: str, target: int,
               out: Path) -> tuple[dict, Path | None]:
    started = time.perf_counter()
    result = retopologize(vertices, faces, RetopoSettings(topology, target))
    baked = bake(high, result.vertices, result.triangles, BakeSettings(size=BAKE_SIZE))
    quads = 0 if result.quads is None else len(result.quads)
    glb = out / f"img23d-{topology}-{target}.glb"
    write_finished_glb(glb, baked, quads)
    seconds = time.perf_counter() - started
    ok, why, facts = check(vertices, faces, result.vertices, result.triangles, result.faces_out, target,
                           result.quads if result.quads is not None else result.triangles)
    row = {"method": f"img23d {topology}", "ok": ok, "why": why, "status": result.method, "fallback": result.fallback,
           "faces_out": result.faces_out, "quad_share": round(quads / max(result.faces_out, 1), 4),
           "seconds": round(seconds, 3), "remesh_s": round(result.seconds, 3), "bake_s": round(baked.seconds, 3),
           "texels_by_nearest": baked.stats.by_nearest, **facts}
    return _measured(row, vertices, faces, result.vertices, result.triangles, target), glb


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
    import game_ready_blender as blender  # bpy: imported here, not when a spawned worker re-imports this file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[5000, 2000, 10000])
    parser.add_argument("--only", nargs="*", default=None, help="mesh names to run (default: the whole set)")
    parser.add_argument("--budget-s", type=float, default=1e9, help="start no new (mesh, target) after this")
    parser.add_argument("--renders", type=Path, default=None, help="keep the renders here")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    record = {"device": f"CPU {cpu_name()}, {os.cpu_count()} cores (shared)",
              "load_average_start": os.getloadavg(), "versions": versions(blender.version()),
              "targets": args.targets, "bake_size": BAKE_SIZE, "texture": TEXTURE, "method": METHOD, "runs": [],
              "left_out": []}
    with tempfile.TemporaryDirectory(prefix="img23d-game-ready-") as scratch:
        work = Path(scratch)
        paths, record["notes"] = mesh_set(work)
        paths = {k: v for k, v in paths.items() if not args.only or k in args.only}
        loaded = {name: load(path) for name, path in paths.items()}
        highs, renders = {}, {}
        for target in args.targets:
            for name, (vertices, faces) in loaded.items():
                if time.perf_counter() - started > args.budget_s:
                    record["left_out"].append({"mesh": name, "target": target})
                    continue
                out = work / "out" / name.split()[0] / str(target)
                out.mkdir(parents=True, exist_ok=True)
                if name not in highs:
                    coloured = not name.startswith("hunyuan")
                    highs[name] = textured(vertices, faces) if coloured else trimesh.Trimesh(vertices, faces,
                                                                                            process=False)
                    high_glb = work / f"{name.split()[0]}-high.glb"
                    (highs[name] if coloured else grey(vertices, faces)).export(str(high_glb), file_type="glb",
                                                                                include_normals=True)
                    views = views_for(vertices)
                    renders[name] = (views, blender.render_glb(high_glb, views, _keep(args.renders, name, "high")))
                views, high_images = renders[name]
                rows = []
                for topology in ("quads", "triangles"):
                    row, glb = run_img23d(highs[name], vertices, faces, topology, target, out)
                    low_images = blender.render_glb(glb, views, _keep(args.renders, name, f"{topology}-{target}"))
                    row["psnr_db"], per_view = blender.psnr(high_images, low_images)
                    row["psnr_db"], row["psnr_per_view_db"] = round(row["psnr_db"], 2), [round(p, 2) for p in per_view]
                    rows.append(row)
                rows.append(run_blender("QuadriFlow", lambda: blender.quadriflow(vertices, faces, target, False),
                                        vertices, faces, target))
                rows.append(run_blender("QuadriFlow after Merge by Distance",
                                        lambda: blender.quadriflow(vertices, faces, target, True), vertices, faces,
                                        target))
                rows.append(run_blender("Decimate", lambda: blender.decimate(vertices, faces, target), vertices, faces,
                                        target))
                for row in rows:
                    row.update(mesh=name, faces_in=int(len(faces)), target=target, load_average=os.getloadavg()[0])
                    record["runs"].append(row)
                    print(summary(row), flush=True)
                if args.json:
                    write(args.json, record, started)
    if args.json:
        write(args.json, record, started)
    return 0


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.load(path, force="mesh")
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def views_for(vertices: np.ndarray):
    import game_ready_blender as blender  # bpy, as in main()

    # glTF's (x, y, z), Y up, arrive in Blender as (x, -z, y)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    centre = (low + high) / 2.0
    return blender.Views(centre=(float(centre[0]), float(-centre[2]), float(centre[1])),
                         radius=float(np.linalg.norm(high - low) / 2.0))


def _keep(folder: Path | None, name: str, what: str) -> Path:
    base = folder if folder is not None else Path(tempfile.gettempdir()) / "img23d-game-ready-renders"
    return base / name.split()[0] / what


def versions(blender_version: str) -> dict:
    found = {"python": platform.python_version(), "blender (bpy)": blender_version}
    for package in ("numpy", "scipy", "trimesh", "scikit-image", "embreex", "pynanoinstantmeshes", "xatlas",
                    "fast-simplification"):
        found[package] = version(package)
    return found


def summary(row: dict) -> str:
    distance = f"Hausdorff {100 * row['hausdorff']:.2f} %, Chamfer {100 * row['chamfer']:.3f} %" if "hausdorff" in row else ""
    psnr = f", {row['psnr_db']:.1f} dB" if "psnr_db" in row else ""
    return (f"{row['mesh']:24s} {row['target']:6,d} {row['method']:36s} {'ok ' if row['ok'] else 'NO '}"
            f"{row['faces_out']:7,d} faces, quads {100 * row['quad_share']:5.1f} %, {row['seconds']:6.2f} s "
            f"{distance}{psnr} {row['why']} {row.get('fallback') or ''}")


def write(path: Path, record: dict, started: float) -> None:
    record["load_average_end"] = os.getloadavg()
    record["seconds"] = round(time.perf_counter() - started, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
