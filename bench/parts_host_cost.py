"""What a part costs besides the networks, on this machine (issue 74 item 3): the history's surface samples and
farthest-point sampling, and the accepted part's clean-up, timed through AutoPartGen's own functions.

    .venv-py313/bin/python bench/parts_host_cost.py [--json bench/results/parts-host-cost-cpu.json]

The part is a trained model's kind of surface: a closed sphere of about 200,000 triangles (a part decoded at
256 cells a side had about that many on a lent H200, issue 74), with one floater to drop. Timed, each the
median of ``--repeats`` runs: ``surface_samples`` of the release's 500,000 points (numpy, on the host on every
device); ``farthest_points`` for ``--fps-steps`` steps over the release's pool of 65,536 points (a step's
seconds: the history takes 32,768 + 2,048 of them); ``clean`` (the pieces weighed, the floater dropped, holes
filled); ``overlap`` of the part against one other as large (the loop's check when no mask names the parts). ``parts.costs`` reads these figures (``autopartgen/model.py``'s ``BENCHMARK``).
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
import torch
import trimesh
from source_paths import REPO

from img23d_backend.parts.autopartgen.sampling import farthest_points, surface_samples
from img23d_backend.parts.autopartgen.surface import clean, overlap

SAMPLES = 500_000
POOL = 65_536


def _part(subdivisions: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A sphere of 20 x 4^subdivisions triangles (327,680 at 7, less its cap: see below) and a small floater."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.8)
    keep = sphere.faces[: 200_000]   # an open part: its hole is what clean fills
    floater = trimesh.creation.icosphere(subdivisions=1, radius=0.02)
    vertices = np.concatenate([sphere.vertices, floater.vertices + [0.9, 0.0, 0.0]])
    faces = np.concatenate([keep, floater.faces + len(sphere.vertices)])
    return vertices.astype(np.float32), faces.astype(np.int64)


def _median(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fps-steps", type=int, default=2000)
    args = parser.parse_args()
    start_load = os.getloadavg()[0]
    vertices, faces = _part()
    rng = np.random.default_rng(0)
    sample_s = _median(lambda: surface_samples(vertices, faces, SAMPLES, rng), args.repeats)
    pool = torch.from_numpy(surface_samples(vertices, faces, POOL, rng)[:, :3])
    fps_s = _median(lambda: farthest_points(pool, args.fps_steps, torch.Generator().manual_seed(0)), args.repeats)
    cleaned = clean(vertices, faces)
    clean_s = _median(lambda: clean(vertices, faces), args.repeats)
    other = (vertices * 0.9, faces)
    overlap_s = _median(lambda: overlap((vertices, faces), [other], 0), args.repeats)
    load = os.getloadavg()[0]
    result = {
        "benchmark": "parts-host-cost",
        "device": "cpu",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "load_average_start_end": [round(start_load, 2), round(load, 2)],
        "part_faces": int(len(faces)), "cleaned_faces": int(len(cleaned[1])),
        "surface_samples": SAMPLES, "sample_s": round(sample_s, 3),
        "fps_pool": POOL, "fps_steps_timed": args.fps_steps,
        "fps_step_s": round(fps_s / args.fps_steps, 7),
        "clean_s": round(clean_s, 3),
        "overlap_s": round(overlap_s, 3),
        "repeats": args.repeats,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
