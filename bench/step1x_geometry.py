"""Step1X-3D geometry beside Hunyuan3D-2 mini turbo: full-size replicas, side by side in one run.

    .venv-py313/bin/python bench/step1x_geometry.py --models-dir DIR [--build] [--steps 3]
        [--octree 128] [--device cpu] [--footprint] [--json bench/results/step1x-geometry-cpu.json]

Both models are full-size random-weight replicas: Step1X-3D-Geometry-1300m as
``img23d_backend.families.step1x.geometry.replica`` writes it (float32, as published), Hunyuan3D-2 mini turbo as
``bench/full_size_models.py`` builds it (component ``shape``). Each is loaded with its production
loader and run by the production call (``families.step1x.geometry.generate.generate_geometry``,
``families.hunyuan3d.shape.generate_shapes``) on the same cut-out for ``--steps`` denoising steps, then decoded
at ``--octree``. The progress events time each part: the first step's interval also holds the
image encoding (its excess over the later steps' median is reported as ``encode``), the last
event's the decoding. Each model's time is then projected to its own steps (Step1X 30 with
classifier-free guidance, a batch of two; mini turbo 5, guidance embedded): encode + steps x the
median step + decode. Random weights change no compute.

``--footprint`` loads Step1X in bfloat16 in a fresh process (a tensor of the same size as
float16's; this CPU runs bfloat16 several times faster than float16) and reports its weights'
bytes per part and the process's peak resident memory over one guided step and one decoder chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from img23d_backend.models.replica_common import prepare_imports, write_json  # noqa: E402
from timing import step_intervals, touch_weights  # noqa: E402  (bench/ is the script's folder)
import shape_views  # noqa: E402

prepare_imports()  # before diffusers and hy3dgen: torchvision's compiled ops may not load

import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from img23d_backend.families.step1x.geometry import replica as step1x_replica  # noqa: E402
from img23d_backend.replicas.full import build_full_size_models  # noqa: E402
from img23d_backend.env.job_control import CancelToken# noqa: E402
from img23d_backend.families.step1x.specs import step1x_precision  # noqa: E402
from img23d_backend.models.dtypes import device_kind  # noqa: E402
from img23d_backend.families.step1x.geometry.generate import GeometrySettings, denoise, generate_geometry  # noqa: E402
from img23d_backend.families.step1x.geometry.loader import load_geometry  # noqa: E402
from img23d_backend.surfaces.volume import GridSettings  # noqa: E402

OWN_STEPS = {"step1x": 30, "hunyuan-mini-turbo": 5}
LABELS = {"step1x": "Step1X-3D Geometry 1300m (Apache-2.0; 30 steps, classifier-free guidance)",
          "hunyuan-mini-turbo": "Hunyuan3D-2 mini turbo (5 steps, guidance embedded)"}


def cutout() -> Any:
    image = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((96, 64, 416, 448), fill=(180, 120, 60, 255))
    return image


def run_step1x(root: Path, steps: int, octree: int, device: str) -> dict[str, Any]:
    folder = root / "step1x-3d" / step1x_replica.FOLDER
    started = time.perf_counter()
    model = load_geometry(folder, device, step1x_precision(device_kind(torch.device(device))).dtype)  # as the product
    touch_weights(model.modules)
    load = time.perf_counter() - started
    events = [time.perf_counter()]
    settings = GeometrySettings(steps=steps, grid=GridSettings.for_octree(octree))
    meshes = generate_geometry(model, [cutout()], [1], settings, cancel=CancelToken(),
                               progress=lambda *args: events.append(time.perf_counter()))
    figures = {"load": load, **step_intervals(events, steps), "faces": len(meshes[0].faces) if meshes[0] is not None else 0,
               "weight_bytes": sum(model.weight_bytes.values()),
               "gaps": [round(b - a, 3) for a, b in zip(events, events[1:])]}
    del model
    return figures


def run_hunyuan(root: Path, steps: int, octree: int, device: str) -> dict[str, Any]:
    # The same run as bench/shape_views.py's single-view model (its cut-out is this one).
    return shape_views.run(root, "single-view", cutout(), steps, octree, device)


def footprint(root: Path) -> dict[str, Any]:
    """Run in a fresh process: Step1X in bfloat16, its weights and each part's peak resident memory."""

    def rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def high_water() -> int:
        """The process's peak resident memory since the last reset (VmHWM)."""
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM in /proc/self/status")

    def reset_high_water() -> None:
        # Linux: writing 5 to clear_refs resets the peak resident set to the current one, so each
        # part's peak is its own, not the load's (which holds the float32 file and its copy at once).
        Path("/proc/self/clear_refs").write_text("5")

    before = rss()
    model = load_geometry(root / "step1x-3d" / step1x_replica.FOLDER, "cpu", torch.bfloat16)
    loaded = rss()
    weights = sum(model.weight_bytes.values())
    peaks = {}
    reset_high_water()
    latents = denoise(model, [cutout()], [1], GeometrySettings(steps=1))
    peaks["step"] = high_water() - loaded
    with torch.inference_mode():
        tokens = model.vae.decode(latents)
        for points in (8_192, 65_536):
            reset_high_water()
            model.vae.query(torch.rand(1, points, 3) * 2 - 1, tokens)
            peaks[f"decoder_call_{points}"] = high_water() - loaded
    return {"dtype": "bfloat16 (the size of float16)", "weight_bytes": model.weight_bytes, "weights_total": weights,
            "rss_growth_load": loaded - before,
            # Each part's peak above the loaded model: the guided step (batch of two, the image encoder
            # included), then one decoder call of 8,192 and of 65,536 query points (upstream's chunk).
            "peak_over_loaded": peaks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shape_views.shape_arguments(parser, steps=3, octree=128)
    parser.add_argument("--footprint", action="store_true", help="also Step1X's bfloat16 footprint (fresh process)")
    parser.add_argument("--footprint-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.models_dir
    if args.footprint_only:
        print(json.dumps(footprint(root)))
        return 0
    if args.build:
        build_full_size_models(root, ["shape", "step1x"])
    results: dict[str, Any] = {}
    for name, run in (("hunyuan-mini-turbo", run_hunyuan), ("step1x", run_step1x)):
        print(f"{name}: {args.steps} steps, octree {args.octree} ...", flush=True)
        figures = run(root, args.steps, args.octree, args.device)
        figures["projected"] = figures["encode"] + OWN_STEPS[name] * figures["step"] + figures["decode"]
        figures["own_steps"], figures["label"] = OWN_STEPS[name], LABELS[name]
        results[name] = figures
        print(f"  load {figures['load']:.1f} s, encode {figures['encode']:.1f} s, step {figures['step']:.2f} s, "
              f"decode {figures['decode']:.1f} s -> {OWN_STEPS[name]} steps: {figures['projected']:.1f} s", flush=True)
    ratio = {part: results["step1x"][part] / results["hunyuan-mini-turbo"][part]
             for part in ("load", "step", "decode", "projected")}
    print("step1x / mini turbo: " + ", ".join(f"{part} {value:.2f}x" for part, value in ratio.items()))
    report: dict[str, Any] = {"device": args.device if args.device != "cpu" else f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)",
                              "steps_measured": args.steps, "octree": args.octree, "models": results,
                              "ratio_step1x_over_mini_turbo": ratio}
    if args.footprint or args.footprint_only:
        done = subprocess.run([sys.executable, __file__, "--models-dir", str(root), "--footprint-only"],
                              capture_output=True, text=True, timeout=3600, check=True)
        report["step1x_footprint"] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"footprint: {json.dumps(report['step1x_footprint'])}")
    if args.json:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
