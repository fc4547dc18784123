"""Finished meshes as Blender receives them: pieces, open edges and import time (issue 54, item 3).

    .venv/bin/python bench/import_weld.py [--addon-root CHECKOUT] [--faces 5000] [--repeat 3] [--json out.json]

The example mesh (and the real Hunyuan3D-2 mesh, where ../shared/data has it) is finished to quads
by the backend's own ``retopo`` command, as a user runs it, and unwrapped as the paint stage unwraps
a generated mesh (``unwrap_arrays``, xatlas's when measured: its vertices split along the seams; written with normals, as a painted
mesh's GLB is). Each finished GLB, the generated (high) mesh the run keeps beside it, and the
unwrapped mesh are then imported through the add-on's ``scene_import.import_glb``
(install from the zip of ``--addon-root``: this checkout by default, another to measure its import,
e.g. main's before the weld). Reported per file: islands (pieces joined by edges), open edges (one
face), edges with more than two faces, vertices, quads, and the median import seconds; beside them
what the file itself holds once equal positions are one vertex (its own welded topology).
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
from pathlib import Path

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]
REAL_MESH = ROOT.parent / "shared" / "data" / "hunyuan3d_shape_output.glb"


def _islands(count: int, edges: np.ndarray) -> int:
    """Pieces of ``count`` vertices joined by ``edges`` (E, 2)."""
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    return int(connected_components(graph, directed=False)[0])


def file_topology(path: Path) -> dict:
    """The file's triangles with equal positions as one vertex: islands, open and crowded edges."""
    mesh = trimesh.load(path, force="mesh", process=False)
    positions = np.asarray(mesh.vertices, dtype=np.float32)
    _, welded = np.unique(positions, axis=0, return_inverse=True)
    triangles = welded.reshape(-1)[np.asarray(mesh.faces)]
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique, uses = np.unique(edges, axis=0, return_counts=True)
    return {"vertices_written": len(positions), "positions": int(welded.max()) + 1, "triangles": len(triangles),
            "islands": _islands(int(welded.max()) + 1, unique), "open_edges": int((uses == 1).sum()),
            "crowded_edges": int((uses > 2).sum())}


def blender_topology(mesh) -> dict:
    edges = np.empty(2 * len(mesh.edges), dtype=np.int64)
    mesh.edges.foreach_get("vertices", edges)
    corner_edges = np.empty(len(mesh.loops), dtype=np.int64)
    mesh.loops.foreach_get("edge_index", corner_edges)
    uses = np.bincount(corner_edges, minlength=len(mesh.edges))
    return {"vertices": len(mesh.vertices), "faces": len(mesh.polygons),
            "quads": sum(len(p.vertices) == 4 for p in mesh.polygons),
            "islands": _islands(len(mesh.vertices), edges.reshape(-1, 2)), "open_edges": int((uses == 1).sum()),
            "crowded_edges": int((uses > 2).sum()), "loose_edges": int((uses == 0).sum())}


def finish(mesh: Path, faces: int, out: Path) -> Path:
    """The backend's ``retopo`` command on ``mesh``: the finished GLB's path (its high mesh beside it)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    subprocess.run([sys.executable, "-m", "img23d_backend", "retopo", str(mesh), "--topology", "quads",
                    "--faces", str(faces), "--bake-size", "1024", "--out", str(out)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return max(out.glob(f"*-{mesh.stem}-retopo/{mesh.stem}.glb"), key=lambda p: p.stat().st_mtime)


def as_painted(mesh: Path, out: Path) -> Path:
    """``mesh`` with the paint stage's UVs (its vertices split along the seams) and vertex normals."""
    from img23d_backend.uv.unwrap import unwrap_arrays

    source = trimesh.load(mesh, force="mesh")
    vertices, faces, uvs = unwrap_arrays(source.vertices, source.faces)
    # Every copy of a vertex gets its vertex's smooth normal: the copies are found by position.
    _, place = np.unique(np.concatenate([source.vertices, vertices]), axis=0, return_inverse=True)
    place = place.reshape(-1)
    normal_at = np.zeros((place.max() + 1, 3))
    normal_at[place[:len(source.vertices)]] = source.vertex_normals
    copy_normals = normal_at[place[len(source.vertices):]]
    painted = trimesh.Trimesh(vertices=vertices, faces=faces, vertex_normals=copy_normals,
                              visual=trimesh.visual.TextureVisuals(uv=uvs), process=False)
    path = out / f"{mesh.stem}_painted.glb"
    painted.export(str(path), file_type="glb", include_normals=True)
    return path


def _install(addon_root: Path, tmp: Path):
    os.environ["BLENDER_USER_RESOURCES"] = str(tmp / "blender-user")
    sys.path.insert(0, str(addon_root))
    import bpy

    import build_addon

    zip_path = build_addon.build(tmp / "dist")
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default", enable_on_install=True)
    return bpy, sys.modules["bl_ext.user_default.img23d.scene_import"]


def measure(bpy, scene_import, path: Path, repeat: int) -> dict:
    seconds, found = [], {}
    for index in range(repeat):
        started = time.perf_counter()
        obj = scene_import.import_glb(path, f"bench {index}", [])
        seconds.append(time.perf_counter() - started)
        found = blender_topology(obj.data)
        bpy.data.objects.remove(obj, do_unlink=True)
    return {**found, "import_median_s": round(statistics.median(seconds), 4),
            "import_s": [round(s, 4) for s in seconds]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addon-root", type=Path, default=ROOT, help="the checkout whose add-on imports")
    parser.add_argument("--faces", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    meshes = [ROOT / "examples" / "house_mesh.glb"] + [REAL_MESH] * REAL_MESH.is_file()
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="img23d-bench-") as tmp_name:
        tmp = Path(tmp_name)
        files = {}
        for mesh in meshes:
            low = finish(mesh, args.faces, tmp / "runs")
            files[f"{mesh.stem} finished"] = low
            files[f"{mesh.stem} high"] = low.parent / "high" / low.name
            files[f"{mesh.stem} as painted"] = as_painted(mesh, tmp)
        bpy, scene_import = _install(args.addon_root.resolve(), tmp)
        rows = {name: {"file": file_topology(path), "blender": measure(bpy, scene_import, path, args.repeat)}
                for name, path in files.items()}
    load.append(os.getloadavg()[0])
    report = {"device": f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "blender": bpy.app.version_string, "addon_root": str(args.addon_root), "faces": args.faces,
              "load_average_start_end": load, "meshes": rows}
    for name, row in rows.items():
        got, own = row["blender"], row["file"]
        print(f"{name}: {got['islands']} islands, {got['open_edges']} open edges, {got['crowded_edges']} crowded "
              f"(the file welded: {own['islands']}, {own['open_edges']}, {own['crowded_edges']}); {got['vertices']:,} "
              f"vertices, {got['quads']:,} quads of {got['faces']:,} faces; import {got['import_median_s']} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
