"""Quads in Blender against the frame their normal map was baked in (issue 54, item 2).

For each mesh: its quads at ``--target`` (``retopologize``, as the finish makes them), baked at 1024 px
as the code before issue 54 did (the file's triangles as the retopology split them, each quad's
triangles wherever the unwrap put them; ``quads=0``) and as it does now (``quads=Q``: each quad in
one chart, split along MikkTSpace's diagonal), each written as the finished GLB. Each GLB is imported
by the add-on's own import (``scene_import.import_glb``: quads restored, seams welded), with the
corners' normals kept through the join (now) or not (before: ``seam_weld.kept_normals`` disabled), and
Blender's ``Mesh.calc_tangents`` on the quads is compared corner by corner (matched by position and UV)
with the bake's own tangents and normals: the share of corners turned by more than 1 and 5 degrees,
the 95th percentile and the largest turn, bitangent signs flipped, the largest normal difference.
The same GLB left as triangles (a game engine's view) is compared too.

    .venv-py313/bin/python bench/quad_tangents.py [--mesh GLB ...] [--target 5000] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))
sys.path.insert(0, str(REPO))

from img23d_backend.finish.bake import BakedMesh, BakeSettings, bake  # noqa: E402
from img23d_backend.finish.bake.quads import split_quads  # noqa: E402
from img23d_backend.finish.glb import QUADS_EXTRA, write_finished_glb  # noqa: E402
from img23d_backend.gltf.made_by import MadeBy  # noqa: E402
from img23d_backend.finish.retopo import RetopoSettings, retopologize  # noqa: E402

MESHES = [REPO / "examples" / "house_mesh.glb", REPO.parent / "shared" / "data" / "hunyuan3d_shape_output.glb"]


def _blender_axes(points: np.ndarray) -> np.ndarray:
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def _degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def compare(path: Path, baked: BakedMesh, restore: bool, keep_normals: bool) -> dict:
    """Blender's tangents on the imported GLB against the bake's, per corner. Blender is imported
    here, not at the top: the finish's worker processes start by importing this module again."""
    import bpy

    from blender_img23d import scene_import, seam_weld

    corners = baked.faces
    uvs = baked.uvs[corners].reshape(-1, 2)
    keys = np.concatenate([_blender_axes(baked.vertices[corners]).reshape(-1, 3).astype(np.float32),
                           np.stack([uvs[:, 0].astype(np.float32),
                                     np.float32(1.0) - (1.0 - uvs[:, 1]).astype(np.float32)], axis=1)], axis=1)
    reference: dict[bytes, list[int]] = {}
    for corner, key in enumerate(keys):
        reference.setdefault(key.tobytes(), []).append(corner)
    tangents = _blender_axes(baked.tangents[corners][..., :3]).reshape(-1, 3)
    signs = baked.tangents[corners][..., 3].reshape(-1)
    normals = _blender_axes(baked.normals[corners]).reshape(-1, 3)

    if not restore:
        path = _without_quads(path)
    kept = seam_weld.kept_normals
    if not keep_normals:
        seam_weld.kept_normals = lambda mesh: contextlib.nullcontext()
    try:
        obj = scene_import.import_glb(path, "bench", [])
    finally:
        seam_weld.kept_normals = kept
    mesh = obj.data
    mesh.calc_tangents()
    count = len(mesh.loops)
    vertex, tangent, sign = np.zeros(count, np.int32), np.zeros(count * 3, np.float32), np.zeros(count, np.float32)
    uv, normal = np.zeros(count * 2, np.float32), np.zeros(count * 3, np.float32)
    co = np.zeros(len(mesh.vertices) * 3, np.float32)
    mesh.loops.foreach_get("vertex_index", vertex)
    mesh.loops.foreach_get("tangent", tangent)
    mesh.loops.foreach_get("bitangent_sign", sign)
    mesh.uv_layers.active.data.foreach_get("uv", uv)
    mesh.corner_normals.foreach_get("vector", normal)
    mesh.vertices.foreach_get("co", co)
    co, tangent, uv, normal = co.reshape(-1, 3), tangent.reshape(-1, 3), uv.reshape(-1, 2), normal.reshape(-1, 3)
    faces = len(mesh.polygons)
    bpy.data.objects.remove(obj)
    turned, flipped, normal_off, missing = [], 0, [], 0
    for loop in range(count):
        candidates = reference.get(np.concatenate([co[vertex[loop]], uv[loop]]).tobytes())
        if not candidates:
            missing += 1
            continue
        angles = _degrees(tangent[loop], tangents[candidates])
        best = candidates[int(np.argmin(angles))]
        turned.append(float(angles.min()))
        flipped += int(sign[loop] != signs[best])
        normal_off.append(float(_degrees(normal[loop], normals[best])))
    turned_a = np.asarray(turned)
    return {"faces_in_blender": faces, "corners": count, "unmatched": missing,
            "share_over_1_degree": round(float((turned_a > 1.0).mean()), 5),
            "share_over_5_degrees": round(float((turned_a > 5.0).mean()), 5),
            "p95_degrees": round(float(np.percentile(turned_a, 95)), 3), "max_degrees": round(float(turned_a.max()), 2),
            "sign_flips": flipped, "normal_max_degrees": round(float(max(normal_off)), 3)}


def _without_quads(path: Path) -> Path:
    """The same GLB with its quad count set to 0: the file as a game engine reads it, triangles."""
    scene = trimesh.load(path, process=False)
    for geometry in scene.geometry.values():
        geometry.metadata[QUADS_EXTRA] = 0
    target = path.with_name(path.stem + "-triangles.glb")
    scene.export(str(target), include_normals=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mesh", type=Path, nargs="*", default=[m for m in MESHES if m.is_file()])
    parser.add_argument("--target", type=int, default=5000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="img23d-quad-tangents-") as folder:
        for source in args.mesh:
            high = trimesh.load(source, force="mesh", process=False)
            unique, index = np.unique(np.asarray(high.vertices), axis=0, return_inverse=True)
            low = retopologize(unique, index.reshape(-1)[np.asarray(high.faces)], RetopoSettings("quads", args.target))
            assert low.quads is not None, low.fallback
            quads = len(low.quads)
            row = {"mesh": source.name, "quads": quads}
            for label, pairs in (("before", 0), ("now", quads)):
                baked = bake(high, low.vertices, low.triangles, BakeSettings(size=1024), quads=pairs)
                path = Path(folder) / f"{source.stem}-{label}.glb"
                write_finished_glb(path, baked, quads, MadeBy())
                row[label] = {"bake_seconds": round(baked.seconds, 2), "unwrap_seconds": round(baked.timings.unwrap, 2),
                              "quads_across_two_charts": int(split_quads(baked.faces, quads).size),
                              "quads_moved": baked.stats.quads_moved, "quads_alone": baked.stats.quads_alone,
                              "quads_restored": compare(path, baked, True, label == "now"),
                              "triangles": compare(path, baked, False, label == "now")}
                if label == "before":  # which fix does what: the bake's alone, the normals kept alone
                    row["before_normals_kept"] = compare(path, baked, True, True)
                else:
                    row["now_normals_not_kept"] = compare(path, baked, True, False)
                print(source.name, label, json.dumps(row[label]))
            rows.append(row)
    if args.json is not None:
        import bpy

        args.json.write_text(json.dumps({"device": f"CPU {platform.machine()}, {os.cpu_count()} cores",
                                         "blender": bpy.app.version_string, "target": args.target,
                                         "load_average_1min_after": round(os.getloadavg()[0], 2),
                                         "meshes": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
