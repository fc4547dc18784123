"""The bake (issue 44), timed step by step: the example mesh decimated to a face target, its look
baked back at a map size.

The high mesh is the repository's example mesh (``examples/house_mesh.glb``: 40k faces, closed, no
colour). So that the colour transfer is timed as a painted mesh would have it, the bench gives it a
texture first (outside the timing): xatlas UVs and a 1024 px texture whose colour is a smooth function
of the surface position, or vertex colours from the same function (``--colour vertex``), or none.
The low mesh is fast-simplification's decimation of it to ``--faces``. Each bake starts its own UV
worker process (the spawn is part of ``unwrap``); then the same bakes run with one worker started
beforehand, as a job's is.

Printed: the median of ``--repeat`` bakes' total seconds, the split of the median run (unwrap,
tangents, rasterize, rays, normal map, fill), where the texels came from, and the colour error: the
baked colour at each texel against the function at that texel's point on the low mesh (mean absolute,
0..1), which the low mesh's distance from the high one keeps above zero.

    .venv/bin/python bench/bake.py [--mesh GLB] [--faces 5000] [--size 1024] [--colour texture] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))

from img23d_backend.finish.bake import BakedMesh, BakeSettings, bake  # noqa: E402
from img23d_backend.finish.bake.dilate import dilate  # noqa: E402
from img23d_backend.finish.bake.uv_raster import rasterize_uv  # noqa: E402
from img23d_backend.mesh.cleanup import decimate  # noqa: E402
from img23d_backend.env.job_control import CancelToken  # noqa: E402
from img23d_backend.uv.unwrap import Unwrapper, unwrap_arrays  # noqa: E402

MESH = REPO / "examples" / "house_mesh.glb"
TEXTURE = 1024  # texels on a side of the high mesh's own texture


def colour_of(points: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The bench's known colour: a smooth function of the position within the bounding box."""
    t = (points - low) / (high - low)
    return np.stack([t[:, 0], 0.5 + 0.4 * np.sin(6.0 * t[:, 1]), t[:, 2]], axis=1).clip(0.0, 1.0)


def coloured(mesh: trimesh.Trimesh, kind: str) -> trimesh.Trimesh:
    bounds = mesh.bounds
    if kind == "none":
        return trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    if kind == "vertex":
        colours = np.round(colour_of(mesh.vertices, *bounds) * 255).astype(np.uint8)
        return trimesh.Trimesh(mesh.vertices, mesh.faces, vertex_colors=colours, process=False)
    vertices, faces, uvs = unwrap_arrays(mesh.vertices, mesh.faces)
    cover = rasterize_uv(uvs, faces, TEXTURE)
    points = np.einsum("nk,nkd->nd", cover.bary, vertices[faces[cover.face]])
    pixels = np.zeros((TEXTURE, TEXTURE, 3))
    pixels[cover.rows, cover.cols] = colour_of(points, *bounds)
    pixels, _ = dilate(pixels, cover.mask(), 4)  # as a painted texture is: bilinear reads at borders stay in the chart
    image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), "RGB")
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image)
    return trimesh.Trimesh(vertices, faces, visual=trimesh.visual.TextureVisuals(uv=uvs, material=material),
                           process=False)


def colour_error(baked: BakedMesh, size: int, bounds: np.ndarray) -> float | None:
    if baked.base_color is None:
        return None
    cover = rasterize_uv(baked.uvs, baked.faces, size)
    points = np.einsum("nk,nkd->nd", cover.bary, baked.vertices[baked.faces[cover.face]])
    colours = np.asarray(baked.base_color, dtype=np.float64)[cover.rows, cover.cols] / 255.0
    return float(np.abs(colours - colour_of(points, *bounds)).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mesh", type=Path, default=MESH, help="the high mesh (its colour is replaced, see above)")
    parser.add_argument("--faces", type=int, default=5000, help="the low mesh's faces (decimation target)")
    parser.add_argument("--size", type=int, default=1024, help="texels on a side of the baked maps")
    parser.add_argument("--padding", type=int, default=8)
    parser.add_argument("--cage", type=float, default=0.02)
    parser.add_argument("--colour", choices=("texture", "vertex", "none"), default="texture")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    source = trimesh.load(args.mesh, force="mesh")
    high = coloured(source, args.colour)
    low_vertices, low_faces = decimate(np.asarray(source.vertices), np.asarray(source.faces), args.faces)
    settings = BakeSettings(size=args.size, cage=args.cage, padding=args.padding)
    runs = [bake(high, low_vertices, low_faces, settings) for _ in range(max(1, args.repeat))]
    median = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
    with Unwrapper(CancelToken()) as worker:  # a job's worker, already started: the bake alone
        worker.submit("warm-up", low_vertices[:3], np.array([[0, 1, 2]]))
        worker.result("warm-up")
        warm = [bake(high, low_vertices, low_faces, settings, unwrapper=worker).seconds
                for _ in range(max(1, args.repeat))]
    error = colour_error(median, args.size, source.bounds)

    print(f"{len(high.faces):,} faces -> {len(low_faces):,}, {args.size} px, colour {args.colour}, "
          f"median of {len(runs)}: {median.seconds:.2f} s "
          f"(all: {', '.join(f'{run.seconds:.2f}' for run in runs)})")
    for step, seconds in asdict(median.timings).items():
        print(f"  {step:11} {seconds:6.2f} s")
    print(f"with a started UV worker (a job's): median {statistics.median(warm):.2f} s "
          f"(all: {', '.join(f'{s:.2f}' for s in warm)})")
    stats = median.stats
    print(f"texels {stats.texels:,}: by ray {stats.by_ray:,}, by nearest point {stats.by_nearest:,}; "
          f"gutter filled {stats.filled:,}")
    if error is not None:
        print(f"colour error (mean absolute, 0..1): {error:.4f}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "device": f"CPU {platform.machine()}, {os.cpu_count()} cores", "mesh": args.mesh.name,
            "load_average_1min_after": round(os.getloadavg()[0], 2),
            "faces_in": int(len(high.faces)), "faces_out": int(len(low_faces)), "size": args.size,
            "padding": args.padding, "cage": args.cage, "colour": args.colour, "repeat": len(runs),
            "seconds": round(median.seconds, 3),
            "seconds_all": [round(run.seconds, 3) for run in runs],
            "split": {step: round(s, 3) for step, s in asdict(median.timings).items()},
            "seconds_with_started_worker": round(statistics.median(warm), 3),
            "seconds_with_started_worker_all": [round(s, 3) for s in warm],
            "stats": asdict(stats), "colour_mean_abs_error": None if error is None else round(error, 4),
            "low_vertices_after_seams": int(len(median.vertices))}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
