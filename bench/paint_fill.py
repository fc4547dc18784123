"""The paint step's fill of the texels no view saw, side by side: hy3dgen's way (every hole of the atlas
inpainted at full size, Navier-Stokes) against img23d's (``uv.fill``: pull-push; before issue 89,
full size within a few texels of a known one, the far gutter from a quarter-side inpainting), alternating, on the texture and
mask the production bake makes of six views of the mesh Generate paints, at the add-on's default texture
(2048 px). Prints the seconds of each, their ratio, and how far the two fills differ on the charts' texels
(what mip level 0 reads) and in the gutter. Writes JSON.

    .venv/bin/python bench/paint_fill.py [--mesh examples/house_mesh.glb] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from img23d_backend.families.hunyuan3d.paint import _bake  # noqa: E402
from img23d_backend.uv import fill  # noqa: E402
from paint_scene import paint_scene  # noqa: E402  (bench/, beside this script)
from timing import report_done, timed  # noqa: E402


def whole_atlas(texture: np.ndarray, painted: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                uvs: np.ndarray) -> np.ndarray:
    """hy3dgen's fill: the same vertex colours as seeds, then every hole inpainted at full size."""
    rows, cols = fill._vertex_texels(uvs, *painted.shape)
    colours, known = fill.propagate_vertex_colors(texture[rows, cols], painted[rows, cols], vertices, faces)
    seeded = np.clip(texture, 0.0, 1.0).copy()
    seeded[rows[known], cols[known]] = colours[known]
    mask = painted.copy()
    mask[rows[known], cols[known]] = True
    image = (seeded * 255.0 + 0.5).astype(np.uint8)
    return cv2.inpaint(image, np.where(mask, 0, 255).astype(np.uint8), 3, cv2.INPAINT_NS)


def chart_texels(uvs: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """The texels inside the mesh's UV triangles (row 0 is v = 1, as the bake's)."""
    covered = np.zeros((size, size), np.uint8)
    corners = np.round(np.stack([uvs[:, 0] * (size - 1), (1.0 - uvs[:, 1]) * (size - 1)], axis=1)).astype(np.int32)
    for face in faces:
        cv2.fillConvexPoly(covered, corners[face], 1)
    return covered.astype(bool)


def main() -> None:
    scene = paint_scene(__doc__)
    args, settings, mesh, render = scene.args, scene.settings, scene.mesh, scene.render
    # Views whose colour is a smooth function of the pixel (random noise would make every fill alike).
    side = torch.linspace(0.0, 1.0, settings.view_size)
    rows, cols = torch.meshgrid(side, side, indexing="ij")
    views = torch.stack([torch.stack([rows, cols, (rows + cols + view / settings.views) % 1.0])
                         for view in range(settings.views)])
    texture, painted = _bake(render, views, settings, lambda message: None)
    texture, painted = texture.numpy(), painted.numpy()
    vertices, faces, uvs = np.asarray(mesh.vertices), np.asarray(mesh.faces), np.asarray(mesh.visual.uv)
    before, after = [], []
    for _ in range(args.repeat):   # alternating, so that load on the machine falls on both alike
        seconds, old = timed(lambda: whole_atlas(texture, painted, vertices, faces, uvs), 1)
        before.append(seconds)
        seconds, new = timed(lambda: fill.fill_texture(texture, painted, vertices, faces, uvs), 1)
        after.append(seconds)
    charts = chart_texels(uvs, faces, settings.texture_size)
    difference = np.abs(old.astype(np.int16) - new.astype(np.int16)).max(axis=-1)
    unseen = charts & ~painted
    result = {
        "what": "the fill of unseen texels: hy3dgen's whole-atlas inpainting against img23d's",
        "mesh": args.mesh.name, "faces": len(faces), "texture_size": settings.texture_size,
        "repeat": args.repeat,
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()},
        "texels": {"charts": float(charts.mean()), "painted": float(painted.mean()),
                   "unseen_in_charts": float(unseen.mean())},
        "seconds": {"whole_atlas": before, "img23d": after, "median_whole_atlas": statistics.median(before),
                    "median_img23d": statistics.median(after),
                    "ratio": statistics.median(after) / statistics.median(before)},
        # In levels of 255: the charts' texels (what the texture shows), the unseen ones among them, the gutter.
        "difference": {"charts_mean": float(difference[charts].mean()),
                       "charts_p99": float(np.percentile(difference[charts], 99)),
                       "charts_max": int(difference[charts].max()),
                       "unseen_mean": float(difference[unseen].mean()) if unseen.any() else 0.0,
                       "gutter_mean": float(difference[~charts].mean())},
    }
    report_done(args, result, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
