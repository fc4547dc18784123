"""Hunyuan3D-2mv's shape step (a name with views) beside the single-view model's: full-size replicas.

    .venv-py313/bin/python bench/shape_views.py --models-dir DIR [--build] [--steps 2] [--octree 64]
        [--views back] [--device cpu] [--json bench/results/shape-views-cpu.json]

Both models are full-size random-weight replicas built by ``bench/full_size_models.py`` (components
``shape``: Hunyuan3D-2 mini turbo, the default preset's single-view model; ``shape-views``:
Hunyuan3D-2mv turbo, the default preset's model of names with views), each loaded by its production
loader (``families.hunyuan3d.shape.shape_loader``) and run by the production call
(``generate_shapes``, as a Generate job runs it) on the same front cut-out, 2mv with ``--views`` besides
(each a cut-out of its own), for ``--steps`` denoising steps, then decoded at ``--octree`` with
FlashVDM (2mv on its own folder's VAE: the spec downloads no distilled one). The progress events
time each part, as ``bench/step1x_geometry.py`` does: the first step's excess over the later steps'
median is the image encoding (DINOv2-giant, once per view), the last interval the decoding. Each
model's time is projected to its own 5 steps. Random weights change no compute.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from img23d_backend.models.replica_common import prepare_imports, write_json  # noqa: E402
from timing import step_intervals, touch_weights  # noqa: E402  (bench/ is the script's folder)

prepare_imports()  # before hy3dgen: torchvision's compiled ops may not load

import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from img23d_backend.env.job_control import CancelToken  # noqa: E402
from img23d_backend.families.hunyuan3d.shape import generate_shapes, shape_loader  # noqa: E402
from img23d_backend.families.hunyuan3d.shape_decode import FLASHVDM  # noqa: E402
from img23d_backend.replicas.full import build_full_size_models, component_spec  # noqa: E402
from img23d_backend.mesh.shapes import ShapeSettings  # noqa: E402
from img23d_protocol import SIDES  # noqa: E402

COMPONENTS = {"single-view": "shape", "views": "shape-views"}
LABELS = {"single-view": "Hunyuan3D-2 mini turbo (one picture; 5 steps, guidance embedded)",
          "views": "Hunyuan3D-2mv turbo (front and views; 5 steps, guidance embedded)"}
OWN_STEPS = 5


def cutout(width: int) -> Image.Image:
    """An object's cut-out, ``width`` wide: a side view is narrower than the front."""
    image = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((256 - width // 2, 64, 256 + width // 2, 448), fill=(180, 120, 60, 255))
    return image


def run(root: Path, name: str, image: Any, steps: int, octree: int, device: str) -> dict[str, Any]:
    spec = component_spec(root, COMPONENTS[name])
    started = time.perf_counter()
    loaded = shape_loader(spec)(spec.local_path, torch.device(device))
    touch_weights(loaded.modules)
    load = time.perf_counter() - started
    events = [time.perf_counter()]
    settings = ShapeSettings(steps=steps, octree_resolution=octree, guidance_scale=5.0, batch_size=1, decoder=FLASHVDM)
    meshes = generate_shapes(loaded.obj, [image], [1], settings, cancel=CancelToken(),
                             progress=lambda *args: events.append(time.perf_counter()))
    figures = {"load": load, **step_intervals(events, steps), "faces": len(meshes[0].faces) if meshes[0] is not None else 0,
               "weight_bytes": sum(p.numel() * p.element_size() for m in loaded.modules for p in m.parameters()),
               "gaps": [round(b - a, 3) for a, b in zip(events, events[1:])]}
    del loaded
    return figures


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def shape_arguments(parser: argparse.ArgumentParser, steps: int, octree: int) -> None:
    """The arguments the shape benchmarks (this one, step1x_geometry.py) share: the replicas' folder,
    building them, the denoising steps measured and the octree (their defaults given), device, JSON."""
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--build", action="store_true", help="build the missing replicas first")
    parser.add_argument("--steps", type=int, default=steps, help="denoising steps measured per model (at least 2)")
    parser.add_argument("--octree", type=int, default=octree)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shape_arguments(parser, steps=2, octree=64)
    parser.add_argument("--views", nargs="+", default=["back"], choices=SIDES, help="2mv's views beside the front")
    args = parser.parse_args(argv)
    if args.build:
        build_full_size_models(args.models_dir, list(COMPONENTS.values()))
    inputs = {"single-view": cutout(320),
              "views": {"front": cutout(320), **{side: cutout(160 if side != "back" else 320) for side in args.views}}}
    results: dict[str, Any] = {}
    loads = [load_average()]
    for name, image in inputs.items():
        print(f"{name}: {args.steps} steps, octree {args.octree} ...", flush=True)
        figures = run(args.models_dir, name, image, args.steps, args.octree, args.device)
        figures["projected"] = figures["encode"] + OWN_STEPS * figures["step"] + figures["decode"]
        figures["own_steps"], figures["label"] = OWN_STEPS, LABELS[name]
        results[name] = figures
        loads.append(load_average())
        print(f"  load {figures['load']:.1f} s, encode {figures['encode']:.1f} s, step {figures['step']:.2f} s, "
              f"decode {figures['decode']:.1f} s -> {OWN_STEPS} steps: {figures['projected']:.1f} s", flush=True)
    ratio = {part: results["views"][part] / max(results["single-view"][part], 1e-9)
             for part in ("load", "encode", "step", "decode", "projected")}
    print("2mv / single-view: " + ", ".join(f"{part} {value:.2f}x" for part, value in ratio.items()))
    device = args.device if args.device != "cpu" else f"cpu ({platform.processor() or platform.machine()}, " \
                                                      f"{os.cpu_count()} cores)"
    if args.json:
        write_json(args.json, {"device": device, "steps_measured": args.steps, "octree": args.octree,
                               "views": ["front", *args.views], "decoder": FLASHVDM, "torch_threads":
                               torch.get_num_threads(), "load_average_1_5_15": loads, "models": results,
                               "ratio_views_over_single_view": ratio})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
