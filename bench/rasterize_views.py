"""Times the pure-PyTorch ``custom_rasterizer`` on the paint pipeline's six views of a mesh.

Loads a 40,000-face mesh (``--mesh``; by default the repository's ``examples/house_mesh.glb``,
closed and without UVs like a shape model's output), lets hy3dgen's own ``MeshRender`` normalise it and
build the clip-space positions for the six views the paint pipeline renders (azimuths
0/90/180/270/0/180, elevations 0/0/0/0/90/-90, orthographic camera), and rasterizes each view.
Prints faces visible, covered pixels and seconds per view (median of repeats after a warm-up).
When a compiled ``custom_rasterizer`` is importable it is timed on the same views too and the
torch/compiled ratio is printed.

    .venv/bin/python bench/rasterize_views.py [--resolution 2048] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "backend"))

import torch  # noqa: E402

from timing import raster_arguments  # noqa: E402  (bench/, beside this script)

from img23d_backend.families.hunyuan3d.raster import find_compiled, install_custom_rasterizer, rasterize  # noqa: E402
from img23d_backend.models.throughput import processor  # noqa: E402

# Hunyuan3DTexGenConfig.candidate_camera_azims / candidate_camera_elevs
AZIMS = [0, 90, 180, 270, 0, 180]
ELEVS = [0, 0, 0, 0, 90, -90]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=2048)
    raster_arguments(parser, "per view")
    return parser.parse_args(argv)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return processor().model


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def load_views(mesh_path: Path, resolution: int, device: torch.device) -> tuple[list, torch.Tensor]:
    """Clip-space positions per view and the faces, exactly as MeshRender produces them."""
    import trimesh

    from img23d_backend.env.torch_shims import prepare_torchvision

    prepare_torchvision()
    from hy3dgen.texgen.differentiable_renderer.mesh_render import MeshRender

    render = MeshRender(default_resolution=resolution, texture_size=resolution, device=str(device))
    render.load_mesh(trimesh.load(mesh_path, force="mesh"))
    views = []
    for elev, azim in zip(ELEVS, AZIMS):
        _, pos_clip = render.get_pos_from_mvp(elev, azim, None, None)
        views.append((elev, azim, pos_clip.contiguous()))
    return views, render.pos_idx


def time_call(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[float, Any]:
    """Median wall seconds over ``repeats`` runs after one warm-up, and the last result."""
    result = fn()
    synchronize(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    compiled = find_compiled()              # before the shim takes the module name
    install_custom_rasterizer()
    views, tri = load_views(args.mesh, args.resolution, device)
    res = (args.resolution, args.resolution)

    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, {tri.shape[0]} faces, {args.resolution}x{args.resolution}")
    header = f"{'view (elev, azim)':>18} {'faces visible':>14} {'covered px':>11} {'torch s':>9}"
    print(header + (f" {'compiled s':>11} {'ratio':>7} {'same id':>8}" if compiled else ""))
    rows = []
    for elev, azim, pos in views:
        seconds, (findices, _) = time_call(partial(rasterize, pos, tri, res), device, args.repeats)
        row = {"elev": elev, "azim": azim, "seconds": seconds,
               "faces_visible": int(torch.unique(findices[findices > 0]).numel()),
               "covered_pixels": int((findices > 0).sum())}
        line = (f"{f'({elev}, {azim})':>18} {row['faces_visible']:>14} "
                f"{row['covered_pixels']:>11} {seconds:>9.3f}")
        if compiled:
            c_seconds, (c_findices, _) = time_call(partial(compiled.rasterize, pos, tri, res), device,
                                                   args.repeats)
            row.update(compiled_seconds=c_seconds, ratio=seconds / c_seconds,
                       same_face_id=float((c_findices == findices).float().mean()))
            line += f" {c_seconds:>11.3f} {row['ratio']:>7.2f} {row['same_face_id']:>8.4f}"
        rows.append(row)
        print(line)

    mean = statistics.fmean(r["seconds"] for r in rows)
    summary = {"device": device_name(device), "device_type": device.type, "torch": torch.__version__,
               "threads": torch.get_num_threads(), "resolution": args.resolution,
               "faces": int(tri.shape[0]), "repeats": args.repeats, "views": rows,
               "mean_seconds": mean}
    line = f"{'mean':>18} {'':>14} {'':>11} {mean:>9.3f}"
    if compiled:
        summary["mean_compiled_seconds"] = statistics.fmean(r["compiled_seconds"] for r in rows)
        summary["ratio"] = mean / summary["mean_compiled_seconds"]
        line += f" {summary['mean_compiled_seconds']:>11.3f} {summary['ratio']:>7.2f}"
    print(line)
    if not compiled:
        print("compiled custom_rasterizer is not installed: no torch/compiled ratio measured")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
