"""Times the licence-clean family's rasterizer (``clean_raster``) beside Hunyuan's (``raster``) on the
clean family's six views of a mesh, and prints the ratio.

Loads ``--mesh`` (by default the repository's ``examples/house_mesh.glb``, 40,000 faces, closed and
without UVs like a shape model's output), normalises it into upstream's frame as the clean family's
renders do (``families.step1x.texture.render.surface``) and rasterizes each of upstream's six orthographic
views (``cameras.upstream_cameras``) at ``--resolution`` with each rasterizer, alternating, so that
a busy machine slows both alike. Prints covered pixels, seconds for the six views (the best of
``--repeats`` after a warm-up) and clean / Hunyuan.

    .venv/bin/python bench/clean_raster_views.py [--resolution 768 2048] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))

import torch  # noqa: E402

from timing import raster_arguments  # noqa: E402  (bench/, beside this script)
import trimesh  # noqa: E402

from img23d_backend import clean_raster  # noqa: E402
from img23d_backend.families.hunyuan3d import raster  # noqa: E402
from img23d_backend.families.step1x.texture.cameras import to_clip, upstream_cameras  # noqa: E402
from img23d_backend.families.step1x.texture.render import Surface, surface  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, nargs="+", default=[768], help="one or more view sizes")
    raster_arguments(parser, "of the six views")
    return parser.parse_args(argv)


def six_views(rasterize: Callable, clips: list[torch.Tensor], faces: torch.Tensor, size: int,
              device: torch.device) -> tuple[float, int]:
    """Seconds for the six views, and the pixels they cover."""
    covered = 0
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for clip in clips:
        findices, _ = rasterize(clip, faces, (size, size))
        covered += int((findices > 0).sum())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, covered


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shape = surface(trimesh.load(args.mesh, force="mesh"), device)
    runs = [measure(shape, size, args.repeats, device) for size in args.resolution]
    if args.json:
        figures = {"mesh": args.mesh.name, "faces": int(shape.faces.shape[0]), "device": str(device),
                   "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                   "repeats": args.repeats, "runs": runs}
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def measure(shape: Surface, size: int, repeats: int, device: torch.device) -> dict[str, object]:
    """Both rasterizers on the six views at ``size``, alternating; prints and returns the figures."""
    clips = [to_clip(shape.points, mvp, size, size) for mvp in upstream_cameras().mvp]
    rasterizers = {"clean": clean_raster.rasterize, "hunyuan": raster.rasterize}
    best = {name: float("inf") for name in rasterizers}
    covered = {}
    for repeat in range(repeats + 1):
        for name, rasterize in rasterizers.items():
            seconds, covered[name] = six_views(rasterize, clips, shape.faces, size, device)
            if repeat:                       # the first round warms up
                best[name] = min(best[name], seconds)
    ratio = best["clean"] / best["hunyuan"]
    for name in rasterizers:
        print(f"{name:8s} {best[name]:7.3f} s for {len(clips)} views at {size} px, {covered[name]} pixels covered")
    print(f"clean / hunyuan at {size} px: {ratio:.2f}")
    return {"resolution": size, "views": len(clips), "covered": covered,
            "seconds_six_views": {name: round(value, 3) for name, value in best.items()},
            "clean_over_hunyuan": round(ratio, 2)}


if __name__ == "__main__":
    raise SystemExit(main())
