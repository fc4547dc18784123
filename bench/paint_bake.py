"""The paint step's bake of the views into the texture (issue 66 item 6), side by side: hy3dgen's
``MeshRender.back_project`` per view against img23d's ``back_project`` (the same result, its box filters
as max pooling), alternating, on the mesh Generate paints, at the add-on's default texture (2048 px:
six views rendered at 2048); then the production bake (``paint._bake``: every view, the blend) as a
job runs it. Writes JSON.

    .venv/bin/python bench/paint_bake.py [--mesh examples/house_mesh.glb] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from img23d_backend.families.hunyuan3d.back_project import back_project  # noqa: E402
from img23d_backend.families.hunyuan3d.paint import _bake  # noqa: E402
from paint_scene import paint_scene  # noqa: E402  (bench/, beside this script)
from timing import report_done, timed  # noqa: E402


def _seconds(call) -> float:
    """One call's seconds (``timing.timed`` of a single run)."""
    return timed(call, 1)[0]


def main() -> None:
    scene = paint_scene(__doc__)
    args, settings, mesh, render = scene.args, scene.settings, scene.mesh, scene.render
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(settings.render_size, settings.render_size, 3, generator=generator)
    camera = (settings.camera_elevations[0], settings.camera_azimuths[0])
    before, after = [], []
    for _ in range(args.repeat):   # alternating, so that load on the machine falls on both alike
        before.append(_seconds(lambda: render.back_project(image, *camera)))
        after.append(_seconds(lambda: back_project(render, image, *camera)))
    views = torch.rand(settings.views, 3, settings.view_size, settings.view_size, generator=generator)
    bakes = [_seconds(lambda: _bake(render, views, settings, lambda message: None)) for _ in range(args.repeat)]
    result = {
        "what": "one view's back-projection, hy3dgen's against img23d's, then the production bake of every view",
        "mesh": args.mesh.name, "faces": len(mesh.faces), "texture_size": settings.texture_size,
        "render_size": settings.render_size, "views": settings.views, "repeat": args.repeat,
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg()},
        "view_seconds": {"hy3dgen": before, "img23d": after,
                         "median_hy3dgen": statistics.median(before), "median_img23d": statistics.median(after),
                         "ratio": statistics.median(after) / statistics.median(before)},
        "bake_seconds": {"runs": bakes, "median": statistics.median(bakes),
                         "projected_with_hy3dgens_views": statistics.median(bakes) + settings.views
                         * (statistics.median(before) - statistics.median(after))},
    }
    report_done(args, result, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
