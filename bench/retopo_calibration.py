"""How many quads Instant Meshes makes per vertex asked: the ratio ``finish/retopo.py`` divides by.

Instant Meshes' ``vertex_count`` sizes its field's coarse mesh; its pure-quad extraction splits every
coarse face into quads, so several quads come out per vertex asked. This measures the ratio on
each mesh of a small set at three quad targets (2k, 5k, 10k): the raw call asked for
``target / 4`` vertices (the nominal ratio), its quads counted. Then ``retopologize`` runs with
the calibrated constant, to show what it makes of each: quads within 15 % of the target on the
first call or the second, or the fallback and its sentence, and how far its surface is from the
input's (symmetric Hausdorff and Chamfer distances between points drawn on both surfaces, as shares
of the diagonal, beside the estimate's floor: the same distance between two drawings of the input).

The set: the bundled example mesh (``examples/house_mesh.glb``), the real Hunyuan3D-2 mesh where
``../shared/data`` has it, and marching-cubes meshes (a sphere, a torus, and "AI-like" noisy
fields with a thin rod, a thin plate and a small floater), each cleaned as a job cleans it
(``clean_mesh`` with the default finish: floaters under 0.5 % removed, at most 40,000 faces).

    PYTHONPATH=/tmp/extra-... .venv/bin/python bench/retopo_calibration.py [--json bench/results/retopo-calibration-cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import trimesh
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree
from skimage import measure

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))

from img23d_backend.finish import instant_meshes  # noqa: E402
from img23d_backend.finish.quad_mesh import edge_use  # noqa: E402
from img23d_backend.finish.retopo import QUADS_PER_VERTEX_ASKED, RetopoSettings, retopologize  # noqa: E402
from img23d_backend.mesh.cleanup import clean_mesh  # noqa: E402
from img23d_backend.mesh.smoothing import taubin_smooth  # noqa: E402

EXAMPLE = REPO / "examples" / "house_mesh.glb"
HUNYUAN = REPO.parent / "shared" / "data" / "hunyuan3d_shape_output.glb"
NOMINAL_RATIO = 4  # one coarse face split into four quads
TARGETS = (2000, 5000, 10000)


def _grid(cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = np.linspace(-1.0, 1.0, cells)
    return np.meshgrid(axis, axis, axis, indexing="ij")


def _surface(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces, _, _ = measure.marching_cubes(field, 0.0)
    return vertices * (2.0 / (field.shape[0] - 1)) - 1.0, faces


def sphere(cells: int = 64) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = _grid(cells)
    return _surface(0.7 - np.sqrt(x * x + y * y + z * z))


def torus(cells: int = 64) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = _grid(cells)
    ring = np.sqrt(x * x + y * y) - 0.55
    return _surface(0.22 - np.sqrt(ring * ring + z * z))


def ai_like(seed: int, cells: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A lumpy body with a thin rod through it, a thin plate and a small floater: what a shape
    model's marching cubes make of a real object (thin parts one or two cells wide, loose bits)."""
    rng = np.random.default_rng(seed)
    x, y, z = _grid(cells)
    noise = gaussian_filter(rng.standard_normal((cells,) * 3), 3.0) * 4.0
    body = 0.55 - np.sqrt(x * x + (y / 0.8) ** 2 + z * z) + 0.08 * noise
    rod = np.where(np.abs(y) < 0.9, 0.04 - np.sqrt(x * x + z * z), -1.0)
    plate = np.where((np.abs(x) < 0.8) & (np.abs(y) < 0.3), 0.025 - np.abs(z), -1.0)
    floater = 0.06 - np.sqrt((x - 0.8) ** 2 + (y - 0.8) ** 2 + (z - 0.8) ** 2)
    return _surface(np.maximum.reduce([body, rod, plate, floater]))


def mesh_set() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    raw = {"example (house_mesh.glb)": EXAMPLE, "hunyuan3d-2 output": HUNYUAN}
    meshes = {}
    for name, path in raw.items():
        if path.exists():
            mesh = trimesh.load(path, force="mesh")
            meshes[name] = (np.asarray(mesh.vertices), np.asarray(mesh.faces))
    meshes["marching-cubes sphere"] = sphere()
    meshes["marching-cubes torus"] = torus()
    meshes["ai-like field, seed 0"] = ai_like(0)
    meshes["ai-like field, seed 1"] = ai_like(1)
    cleaned = {}
    for name, (vertices, faces) in meshes.items():
        vertices, faces, _ = clean_mesh(vertices, faces)
        cleaned[name] = (vertices, faces)
    return cleaned


def distances(vertices: np.ndarray, faces: np.ndarray, low_vertices: np.ndarray, low_faces: np.ndarray,
              samples: int = 100_000) -> tuple[float, float, float]:
    """Symmetric Hausdorff and Chamfer (mean of both ways) distances between two surfaces, from
    ``samples`` points drawn on each and matched to the nearest drawn point of the other, as
    shares of the high mesh's bounding-box diagonal; and the floor of that estimate (the
    Hausdorff distance between two drawings of the high mesh itself: point spacing, not shape)."""
    surface = trimesh.Trimesh(vertices, faces, process=False)
    high, again = surface.sample(samples, seed=0), surface.sample(samples, seed=2)
    low = trimesh.Trimesh(low_vertices, low_faces, process=False).sample(samples, seed=1)
    diagonal = float(np.linalg.norm(np.ptp(vertices, axis=0)))

    def both_ways(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        a_to_b, _ = cKDTree(b).query(a)
        b_to_a, _ = cKDTree(a).query(b)
        return max(a_to_b.max(), b_to_a.max()) / diagonal, 0.5 * (a_to_b.mean() + b_to_a.mean()) / diagonal

    hausdorff, chamfer = both_ways(high, low)
    return hausdorff, chamfer, both_ways(high, again)[0]


def measure_mesh(vertices: np.ndarray, faces: np.ndarray, target: int) -> dict:
    asked = target // NOMINAL_RATIO
    smoothed = taubin_smooth(vertices, faces, RetopoSettings().smoothing)
    started = time.perf_counter()
    _, quads = instant_meshes.remesh_in_worker(smoothed, faces, asked)
    raw_seconds = time.perf_counter() - started
    counts = edge_use(quads)
    result = retopologize(vertices, faces, RetopoSettings("quads", target))
    hausdorff, chamfer, floor = distances(vertices, faces, result.vertices, result.triangles)
    return {"target": target, "vertex_count_asked": asked, "quads_out": int(len(quads)),
            "ratio": round(len(quads) / asked, 4), "raw_open_edges": int(np.sum(counts == 1)),
            "raw_seconds": round(raw_seconds, 3),
            "retopologize": {"method": result.method, "faces_out": result.faces_out,
                             "off_target": round((result.faces_out - target) / target, 4),
                             "fallback": result.fallback, "seconds": round(result.seconds, 3),
                             "hausdorff_of_diagonal": round(hausdorff, 5), "chamfer_of_diagonal": round(chamfer, 6),
                             "sampling_floor_of_diagonal": round(floor, 5)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows, ratios = [], []
    for name, (vertices, faces) in mesh_set().items():
        for target in TARGETS:
            row = {"mesh": name, "faces_in": int(len(faces)), **measure_mesh(vertices, faces, target)}
            rows.append(row)
            ratios.append(row["ratio"])
            done = row["retopologize"]
            print(f"{name:26s} {target:6,d}: asked {row['vertex_count_asked']:5,d} -> {row['quads_out']:6,d} quads "
                  f"(x{row['ratio']:.3f}, {row['raw_open_edges']} open edges, {row['raw_seconds']:.2f} s); "
                  f"retopologize: {done['method']} {done['faces_out']:,} ({100 * done['off_target']:+.1f} %) "
                  f"{done['seconds']:.2f} s, Hausdorff {100 * done['hausdorff_of_diagonal']:.2f} % "
                  f"(floor {100 * done['sampling_floor_of_diagonal']:.2f} %) "
                  f"{done['fallback'] or ''}", flush=True)
    summary = {"median": round(statistics.median(ratios), 3), "min": min(ratios), "max": max(ratios),
               "constant_in_code": QUADS_PER_VERTEX_ASKED}
    print(f"quads per vertex asked: median {summary['median']}, range {summary['min']}-{summary['max']}"
          f" (the code uses {QUADS_PER_VERTEX_ASKED})")
    if args.json:
        record = {"device": f"CPU {platform.machine()}, {os.cpu_count()} cores", "targets": list(TARGETS),
                  "nominal_ratio": NOMINAL_RATIO, "quads_per_vertex_asked": summary, "runs": rows}
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
