"""The UV unwrap off the job's thread, measured side by side on a 40k-face mesh.

The unwrap holds the GIL while it runs (xatlas's, when ``unwrap-cpu.json`` was measured; the box unwrap's
since issue 89, for a good part of its second: ``bench/unwrap_quality.py``), so a thread would not help: the
job's thread (which drives the device) would stall as long. ``stages.unwrap.Unwrapper`` runs it in a worker
process instead. This times, on
the repository's example mesh (``examples/house_mesh.glb``: 40k faces, one closed piece, no UVs,
like a shape model's output; the figures in ``bench/results/`` were measured on a real Hunyuan3D-2
output of the same size, on the team's machines):

- the unwrap alone, in this process;
- a stand-in for the device's work on the job's thread (pure Python for about as long), alone;
- both one after the other (what a textured target did before), and both at once with the
  unwrap in the worker (what it does now): the ratio of the two is what the overlap saves.

    .venv/bin/python bench/unwrap.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))

from img23d_backend.env.job_control import CancelToken# noqa: E402
from img23d_backend.uv.unwrap import Unwrapper, unwrap_arrays  # noqa: E402

MESH = REPO / "examples" / "house_mesh.glb"


def busy(seconds: float) -> int:
    """Pure-Python work holding the GIL for about ``seconds`` (the job thread's own work)."""
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    mesh = trimesh.load(MESH, force="mesh")

    started = time.perf_counter()
    unwrap_arrays(mesh.vertices, mesh.faces)
    alone = time.perf_counter() - started

    started = time.perf_counter()
    unwrap_arrays(mesh.vertices, mesh.faces)
    busy(alone)
    serial = time.perf_counter() - started

    with Unwrapper(CancelToken()) as unwrapper:
        # The worker's start-up, once a job (it overlaps the first target's delighting).
        unwrapper.submit("warm", mesh.vertices[:3], np.array([[0, 1, 2]]))
        unwrapper.result("warm")
        started = time.perf_counter()
        unwrapper.submit("mesh", mesh.vertices, mesh.faces)
        busy(alone)
        waited_from = time.perf_counter()
        unwrapper.result("mesh")
        overlapped = time.perf_counter() - started
        waited = time.perf_counter() - waited_from

    print(f"{len(mesh.faces):,}-face mesh: unwrap alone {alone:.2f} s")
    print(f"  unwrap then {alone:.2f} s of the job thread's work, one after the other: {serial:.2f} s")
    print(f"  the same with the unwrap in the worker process:               {overlapped:.2f} s "
          f"({overlapped / serial:.2f}x; the job thread then waited {waited:.2f} s for it)")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "device": f"CPU {platform.machine()}, {os.cpu_count()} cores", "mesh": MESH.name,
            "faces": int(len(mesh.faces)), "unwrap_alone_s": round(alone, 3), "serial_s": round(serial, 3),
            "overlapped_s": round(overlapped, 3), "ratio": round(overlapped / serial, 3),
            "job_thread_waited_s": round(waited, 3)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
