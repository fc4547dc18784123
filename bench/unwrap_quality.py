"""The paint stage's UV unwrap beside xatlas's defaults (what it was before issue 89), side by side in one
run: the seconds each takes and how good its layout is.

    .venv/bin/python bench/unwrap_quality.py [--repeat 5] [--size 2048] [--json FILE]

The meshes are like a shape model's output: the real Hunyuan3D-2 one (``../shared/data``; skipped, saying so,
where absent), the repository's example (``examples/house_mesh.glb``), a blob made here (marching cubes of a
known field of six metaballs with ripples, about 160,000 faces, decimated to 40,000 by the production clean-up,
as a generator's mesh is) and the three "AI-like" meshes ``scripts/ai_like_meshes.py`` makes (marching cubes
of noisy fields with thin blades, wires and sheets; about 40,000 faces each, not decimated).

Each mesh is unwrapped ``--repeat`` times by each method, the two interleaved (each repetition starts with
the other one), so a machine shared with other work slows both alike; the figures are the minimum and median
wall-clock seconds and the median's ratio to xatlas's. xatlas's defaults are ``xatlas.parametrize`` as
``unwrap_arrays`` called it before (the mesh at one unit across where far from it); the box unwrap is
``unwrap_arrays`` itself (``uv.box_unwrap``). Then, for each method's layout:

- **overlapping charts**: charts (faces joined through shared UV vertices) with a face whose UV triangle's
  interior meets another face's, the other's chart the same or not (``uv_layout.overlapping_pairs``: the
  separating-axis test, deeper than 1e-6 in UV units, on a grid hash), and the face pairs;
- **texel use**: the share of a ``--size`` texture's texels (the paint's default texture size) whose centre a
  UV triangle covers (``finish.bake.uv_raster``);
- **stretch p90**: the 90th percentile over the faces of max(r, 1/r), r = (the face's share of the UV area)
  / (its share of the 3D area) (``uv_layout.stretch``).

The issue's bar, per mesh: the box unwrap's median at most 0.25 of xatlas's, no overlapping chart, texel use
at least 0.8 of xatlas's, stretch p90 at most 1.25 times xatlas's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import trimesh
from skimage import measure

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(REPO / "scripts"))

import ai_like_meshes  # noqa: E402
from img23d_protocol import JobOptions  # noqa: E402

from img23d_backend.finish.bake.uv_raster import rasterize_uv  # noqa: E402
from img23d_backend.models.throughput import processor  # noqa: E402
from img23d_backend.mesh.cleanup import Finish, clean_mesh  # noqa: E402
from img23d_backend.uv.unwrap import _within_reach, unwrap_arrays  # noqa: E402
from img23d_backend.uv.uv_layout import face_charts, overlapping_pairs, stretch_percentile  # noqa: E402
from timing import conditions, report_done  # noqa: E402  (bench/, beside this script)

REAL_MESH = REPO.parent / "shared" / "data" / "hunyuan3d_shape_output.glb"
EXAMPLE_MESH = REPO / "examples" / "house_mesh.glb"
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
BAR = {"ratio": 0.25, "texel_use": 0.8, "stretch": 1.25}  # the bar


def xatlas_defaults(vertices: np.ndarray, faces: np.ndarray) -> Arrays:
    """The paint stage's unwrap before issue 89: ``xatlas.parametrize`` with its defaults."""
    import xatlas

    positions = _within_reach(np.asarray(vertices, dtype=np.float64)).astype(np.float32)
    mapping, new_faces, uv = xatlas.parametrize(positions, np.asarray(faces, dtype=np.uint32))
    return (np.asarray(vertices, dtype=np.float64)[mapping], np.asarray(new_faces, dtype=np.int64),
            np.asarray(uv, dtype=np.float64))


METHODS: dict[str, Callable[[np.ndarray, np.ndarray], Arrays]] = {"xatlas defaults": xatlas_defaults,
                                                                   "box unwrap": unwrap_arrays}


def blob(cells: int = 150, faces: int = 40_000) -> tuple[np.ndarray, np.ndarray]:
    """Six metaballs with ripples on their surface, through marching cubes, decimated to ``faces`` by the
    production clean-up: lumpy and closed, as a shape model's mesh is."""
    axis = np.linspace(-1.0, 1.0, cells)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    centres = [(0.0, 0.0, 0.0, 0.45), (0.45, 0.2, 0.0, 0.3), (-0.4, 0.3, 0.2, 0.28), (0.0, -0.5, 0.1, 0.3),
               (0.1, 0.45, -0.35, 0.22), (-0.3, -0.3, -0.4, 0.2)]
    field = sum(radius ** 2 / ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 + 1e-6) for cx, cy, cz, radius in centres)
    field = field + 0.08 * np.sin(9 * x) * np.sin(7 * y + 1) * np.sin(8 * z + 2)
    vertices, triangles, _, _ = measure.marching_cubes(field, 1.0)
    vertices = vertices * (2.0 / (cells - 1)) - 1.0
    cleaned, cleaned_faces, _ = clean_mesh(vertices, triangles[:, ::-1], Finish(face_budget=faces))
    return cleaned, cleaned_faces


def meshes() -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """The meshes measured, and a note for each one skipped."""
    found, notes = {}, []

    def loaded(path: Path) -> tuple[np.ndarray, np.ndarray]:
        mesh = trimesh.load(path, force="mesh")
        return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)

    if REAL_MESH.is_file():
        found["hunyuan3d-2 output"] = loaded(REAL_MESH)
    else:
        notes.append(f"{REAL_MESH} is not here: the real Hunyuan3D-2 mesh was skipped")
    found["example (house_mesh.glb)"] = loaded(EXAMPLE_MESH)
    found["blob (marching cubes, decimated)"] = blob()
    for name in ai_like_meshes.SHAPES:
        mesh = ai_like_meshes.make(name)
        found[name] = (np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64))
    return found, notes


def quality(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray, size: int) -> dict[str, Any]:
    """The layout's charts, overlaps, texel use at ``size`` and stretch (the module's docstring)."""
    chart = face_charts(faces, len(vertices))
    pairs = overlapping_pairs(uv, faces)
    return {"charts": int(chart.max()) + 1, "overlapping_charts": int(len(np.unique(chart[pairs]))),
            "overlapping_face_pairs": int(len(pairs)),
            "texel_use": round(float(rasterize_uv(uv, faces, size).mask().mean()), 4),
            "stretch_p90": round(stretch_percentile(vertices, faces, uv), 4),
            "uv_in_unit_square": bool(np.isfinite(uv).all() and uv.min() >= 0.0 and uv.max() <= 1.0)}


def measured(vertices: np.ndarray, faces: np.ndarray, repeat: int, size: int) -> dict[str, Any]:
    """Both methods on one mesh, interleaved: seconds (wall and CPU), then each layout's quality."""
    wall: dict[str, list[float]] = {name: [] for name in METHODS}
    cpu: dict[str, list[float]] = {name: [] for name in METHODS}
    layouts: dict[str, Arrays] = {}
    for number in range(max(1, repeat)):
        names = list(METHODS) if number % 2 == 0 else list(METHODS)[::-1]
        for name in names:
            began, began_cpu = time.perf_counter(), time.process_time()
            layouts[name] = METHODS[name](vertices, faces)
            wall[name].append(time.perf_counter() - began)
            cpu[name].append(time.process_time() - began_cpu)
    figures: dict[str, Any] = {"faces": int(len(faces))}
    for name in METHODS:
        figures[name] = {"seconds_min": round(min(wall[name]), 3), "seconds_median": round(statistics.median(wall[name]), 3),
                         "cpu_seconds_median": round(statistics.median(cpu[name]), 3),
                         **quality(*layouts[name], size)}
    old, new = figures["xatlas defaults"], figures["box unwrap"]
    ratios = {"seconds": round(new["seconds_median"] / old["seconds_median"], 3),
              "seconds_min": round(new["seconds_min"] / old["seconds_min"], 3),
              "texel_use": round(new["texel_use"] / old["texel_use"], 3),
              "stretch_p90": round(new["stretch_p90"] / old["stretch_p90"], 3)}
    figures["ratios"] = ratios
    figures["meets_the_bar"] = (ratios["seconds"] <= BAR["ratio"] and new["overlapping_charts"] == 0
                                and ratios["texel_use"] >= BAR["texel_use"] and ratios["stretch_p90"] <= BAR["stretch"]
                                and new["uv_in_unit_square"])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="unwraps of each mesh by each method")
    parser.add_argument("--size", type=int, default=JobOptions().texture_size, help="the texture's side, in texels")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    found, notes = meshes()
    for note in notes:
        print(note)
    results = {}
    for label, (vertices, faces) in found.items():
        figures = measured(vertices, faces, args.repeat, args.size)
        results[label] = figures
        print(f"{label}, {figures['faces']:,} faces, {args.repeat} runs each (median s, min s; quality at {args.size}):")
        for name in METHODS:
            row = figures[name]
            print(f"  {name:16} {row['seconds_median']:7.2f} {row['seconds_min']:7.2f}  charts {row['charts']:5,}  "
                  f"overlapping charts {row['overlapping_charts']:3} ({row['overlapping_face_pairs']} face pairs)  "
                  f"texel use {row['texel_use']:.3f}  stretch p90 {row['stretch_p90']:.3f}")
        ratios = figures["ratios"]
        print(f"  box / xatlas: time {ratios['seconds']:.3f} (min {ratios['seconds_min']:.3f}), texel use "
              f"{ratios['texel_use']:.3f}, stretch {ratios['stretch_p90']:.3f}: "
              f"{'meets' if figures['meets_the_bar'] else 'MISSES'} the bar", flush=True)
    met = sum(figures["meets_the_bar"] for figures in results.values())
    report = {"device": f"CPU {processor().model}, {os.cpu_count()} cores (shared with other sessions)",
              "repeat": args.repeat, "texture_size": args.size, "bar": BAR, "notes": notes,
              "conditions": conditions(load_before), "meshes": results}
    return report_done(args, report, f"{met} of {len(results)} meshes meet the bar")


if __name__ == "__main__":
    raise SystemExit(main())
