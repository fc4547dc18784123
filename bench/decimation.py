"""The CPU tail's decimation, timed side by side: fast-simplification (what clean-up uses) and
pymeshlab's quadric edge collapse (what it used before), on a 40k-face mesh.

The mesh is the repository's example mesh (``examples/house_mesh.glb``: 40k faces, one closed piece, no UVs,
like a shape model's output; the figures in ``bench/results/`` were measured on a real Hunyuan3D-2
output of the same size, on the team's machines); it is
subdivided (each triangle into four, which keeps its shape) until it has as many faces as a
mesh fresh from surface extraction at octree 256 (about 300k), then each decimator takes it
back down to the default face budget. Figures are the median of ``--repeat`` runs, also given
per 300k faces (the issue's goal: at most 0.5 s per 300k-face mesh on the 2-core CPU).

    .venv/bin/python bench/decimation.py [--faces 300000] [--budget 40000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))

from img23d_backend.mesh.cleanup import Finish, clean_mesh, decimate  # noqa: E402
from timing import timed  # noqa: E402  (bench/, beside this script)

MESH = REPO / "examples" / "house_mesh.glb"


def dense_mesh(faces: int) -> tuple[np.ndarray, np.ndarray]:
    mesh = trimesh.load(MESH, force="mesh")
    vertices, triangles = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    while len(triangles) < faces:
        vertices, triangles = trimesh.remesh.subdivide(vertices, triangles)
    return vertices.astype(np.float32), triangles.astype(np.int64)


def pymeshlab_decimate(vertices: np.ndarray, faces: np.ndarray, budget: int) -> int:
    import pymeshlab

    meshes = pymeshlab.MeshSet()
    meshes.add_mesh(pymeshlab.Mesh(vertex_matrix=vertices.astype(np.float64), face_matrix=faces.astype(np.int32)))
    meshes.apply_filter("meshing_decimation_quadric_edge_collapse", targetfacenum=budget, preservenormal=True)
    return meshes.current_mesh().face_number()



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=300_000, help="subdivide the mesh to at least this many faces")
    parser.add_argument("--budget", type=int, default=40_000, help="faces after decimation (the default budget)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    vertices, faces = dense_mesh(args.faces)
    per = 300_000 / len(faces)
    rows = {
        "fast-simplification": timed(lambda: len(decimate(vertices, faces, args.budget)[1]), args.repeat),
        "pymeshlab quadric collapse": timed(lambda: pymeshlab_decimate(vertices, faces, args.budget), args.repeat),
        "clean_mesh (clean-up + decimation)": timed(
            lambda: len(clean_mesh(vertices, faces, Finish(face_budget=args.budget))[1]), args.repeat),
    }
    fast = rows["fast-simplification"][0]
    print(f"{len(faces):,} faces -> {args.budget:,}, median of {args.repeat}:")
    for name, (seconds, out) in rows.items():
        print(f"  {name:36} {seconds:6.2f} s  ({seconds * per:.2f} s per 300k faces, {out:,} faces out, "
              f"{seconds / fast:.1f}x fast-simplification)")
    goal = fast * per <= 0.5
    print(f"goal: decimation <= 0.5 s per 300k-face mesh: {'MET' if goal else 'NOT MET'} ({fast * per:.2f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "device": f"CPU {platform.machine()}, {os.cpu_count()} cores", "mesh": MESH.name,
            "faces_in": int(len(faces)), "face_budget": args.budget, "repeat": args.repeat,
            "seconds": {name: round(s, 3) for name, (s, _) in rows.items()},
            "faces_out": {name: out for name, (_, out) in rows.items()},
            "seconds_per_300k_faces": {name: round(s * per, 3) for name, (s, _) in rows.items()},
            "goal_met": goal}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
