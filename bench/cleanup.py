"""The clean-up before decimation, timed: img23d's numpy/scipy ``clean_mesh`` and the pymeshlab
filters it replaced (where pymeshlab is importable), side by side on a 40k-face mesh.

Both run the same steps: merge duplicate vertices, drop duplicate and null faces, remove pieces
under 0.5 % of the largest, then close holes and smooth. The
mesh, the repository's example mesh (``examples/house_mesh.glb``: 40k faces, one closed piece, no UVs,
like a shape model's output; the figures in ``bench/results/`` were measured on a real Hunyuan3D-2
output of the same size, on the team's machines), is timed as it is and subdivided (each triangle into 3 x 3,
360k faces: about what surface extraction at octree 256 makes), each with a hole cut into it so
that filling has work. The face budget is 0 so decimation (``bench/decimation.py``) is not in the figures. Figures are the
median of ``--repeat`` runs; the faces out of each are printed so that the two can be compared.

    .venv/bin/python bench/cleanup.py [--repeat 5] [--fill-holes 1000] [--smoothing 3] [--json FILE]

Each mesh is cleaned twice: with the default finish (no filling, no smoothing: most jobs) and
with the filling and smoothing asked for.

pymeshlab is no longer one of the backend's requirements: run this with an environment that
still has it (``pip install pymeshlab``) to get the side-by-side figures.
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

from img23d_backend.mesh.cleanup import FLOATER_FACE_RATIO, Finish, clean_mesh  # noqa: E402
from img23d_backend.mesh.repair import merge_duplicate_vertices  # noqa: E402
from timing import timed  # noqa: E402  (bench/, beside this script)

MESH = REPO / "examples" / "house_mesh.glb"


def split(vertices: np.ndarray, faces: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each triangle into n x n on its barycentric grid (the shape kept); shared points merged."""
    grid = [(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)]
    index = {point: k for k, point in enumerate(grid)}
    weights = np.array(grid, dtype=np.float64) / n
    # Both faces of an edge compute its points as the same sum of the same terms: equal bits.
    points = np.einsum("gk,fkd->fgd", weights, vertices[faces]).reshape(-1, 3)
    small = []
    for i, j, k in grid:
        if k > 0:
            small.append((index[i, j, k], index[i + 1, j, k - 1], index[i, j + 1, k - 1]))
        if k > 1:
            small.append((index[i + 1, j, k - 1], index[i + 1, j + 1, k - 2], index[i, j + 1, k - 1]))
    triangles = (np.arange(len(faces))[:, None, None] * len(grid) + np.array(small)[None]).reshape(-1, 3)
    return merge_duplicate_vertices(points, triangles)


def meshes(dense_faces: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The mesh and a split of it with at least ``dense_faces`` faces, each with a hole: the
    faces within 0.03 of one point removed."""
    mesh = trimesh.load(MESH, force="mesh")
    vertices, faces = np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
    n = int(np.ceil(np.sqrt(dense_faces / len(faces))))
    out = {}
    for vertices, faces in ((vertices, faces), split(vertices, faces, n)):
        faces = faces[np.linalg.norm(vertices[faces].mean(axis=1) - mesh.vertices[100], axis=1) > 0.03]
        out[f"{len(faces):,} faces"] = (vertices.astype(np.float32), faces)
    return out


def pymeshlab_clean(vertices: np.ndarray, faces: np.ndarray, fill_holes: int, smoothing: int) -> int:
    """The filters ``clean_mesh`` ran before it was rewritten, in its order; the faces out."""
    import pymeshlab

    meshes = pymeshlab.MeshSet()
    meshes.add_mesh(pymeshlab.Mesh(vertex_matrix=vertices.astype(np.float64), face_matrix=faces.astype(np.int32)))
    for name in ("meshing_remove_duplicate_vertices", "meshing_remove_duplicate_faces", "meshing_remove_null_faces"):
        meshes.apply_filter(name)
    meshes.apply_filter("compute_selection_by_small_disconnected_components_per_face", nbfaceratio=FLOATER_FACE_RATIO)
    meshes.apply_filter("meshing_remove_selected_vertices_and_faces")
    meshes.apply_filter("meshing_remove_unreferenced_vertices")
    if fill_holes:
        meshes.apply_filter("meshing_close_holes", maxholesize=fill_holes)
    if smoothing:
        meshes.apply_filter("apply_coord_taubin_smoothing", stepsmoothnum=smoothing)
    return meshes.current_mesh().face_number()


def has_pymeshlab() -> bool:
    try:
        import pymeshlab  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=300_000, help="subdivide the mesh to at least this many faces")
    parser.add_argument("--fill-holes", type=int, default=1000, help="close holes of up to this many edges")
    parser.add_argument("--smoothing", type=int, default=3, help="Taubin passes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    side_by_side = has_pymeshlab()
    # The default finish (what most jobs run: no filling, no smoothing), then the one asked for.
    settings = {"default finish": (0, 0), f"fill holes {args.fill_holes}, smoothing {args.smoothing}":
                (args.fill_holes, args.smoothing)}
    results: dict[str, dict[str, tuple[float, int]]] = {}
    for label, (vertices, faces) in meshes(args.faces).items():
        for setting, (fill_holes, smoothing) in settings.items():
            finish = Finish(face_budget=0, fill_holes=fill_holes, smoothing=smoothing)
            rows = {"clean_mesh (numpy/scipy)": timed(lambda: len(clean_mesh(vertices, faces, finish)[1]), args.repeat)}
            if side_by_side:
                rows["pymeshlab filters (before)"] = timed(
                    lambda: pymeshlab_clean(vertices, faces, fill_holes, smoothing), args.repeat)
            results[f"{label}, {setting}"] = rows
            print(f"{label}, {setting}, median of {args.repeat}:")
            for name, (seconds, out) in rows.items():
                print(f"  {name:28} {seconds:7.3f} s  ({out:,} faces out)")
    if not side_by_side:
        print("pymeshlab is not importable here: the new clean-up alone (see the module's docstring)")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "device": f"CPU {platform.machine()}, {os.cpu_count()} cores", "mesh": MESH.name, "repeat": args.repeat,
            "seconds": {label: {name: round(s, 4) for name, (s, _) in rows.items()} for label, rows in results.items()},
            "faces_out": {label: {name: out for name, (_, out) in rows.items()} for label, rows in results.items()},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
