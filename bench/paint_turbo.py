"""The multiview phase of painting: the turbo paint model against the 2.0 one, side by side in one run.

    .venv-py313/bin/python bench/paint_turbo.py --models-dir DIR [--build] [--delete] [--steps 2]
        [--view-size 512] [--device cpu] [--json bench/results/paint-turbo-cpu.json]

Both models are full-size random-weight replicas (``bench/full_size_models.py``: components
``paint`` and ``paint-turbo``), loaded with the production loader (``uv_turbo.
paint_loader``) and run by the same call the paint stage makes: six views (the default cameras)
of a sphere's normal and position maps and a reference picture, at the trained view size. One
model at a time: built if missing (``--build``), loaded, run, freed, and its folder deleted
after (``--delete``), so memory and disk hold one model at most.

Each UNet call is timed on its own. A model's multiview phase is then projected to its own
steps (turbo 10, 2.0 30) as: the call's time outside the UNet (VAE encoding of the reference
and twelve condition maps, the position masks, decoding the six views) + the median UNet call
after the first (which pays one-time costs) x its own steps. Random weights change no compute. On a CPU a few steps per model are enough for
the ratio (``--steps``); on a GPU ``--steps 0`` runs each model's own steps and projects nothing.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from timing import (device_name, forward_calls, full_size_parser, measured_replica, report_done,  # noqa: E402
                    timed, unet_split)  # noqa: E402  (bench/, beside this script)

from img23d_backend.models.registry import paint_steps  # noqa: E402
from img23d_backend.models.replica_common import prepare_imports  # noqa: E402
from img23d_backend.replicas.full import TARGETS, component_spec  # noqa: E402

# 2.0 first: its figures are the yardstick the turbo model is measured against.
MODELS = {"paint": "Hunyuan3D-Paint 2.0 (30 steps, classifier-free guidance)",
          "paint-turbo": "Hunyuan3D-Paint 2.0 turbo (10 steps, no guidance batch, position-guided attention)"}
GOAL = 0.55  # the turbo multiview phase at most this share of the 2.0 one


def sphere_maps(size: int, views: int) -> tuple[Any, Any]:
    """Normal and position maps of a unit sphere seen from ``views`` cameras, [views, 3, size, size]
    in [0, 1] on white, as the paint stage renders them (each view turned about the vertical)."""
    import torch

    v, u = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    radius = 0.8
    inside = (u**2 + v**2) < radius**2
    depth = torch.sqrt((radius**2 - u**2 - v**2).clamp(min=0))
    normals, positions = [], []
    for view in range(views):
        angle = torch.tensor(2 * torch.pi * view / views)
        x = u * torch.cos(angle) + depth * torch.sin(angle)
        z = -u * torch.sin(angle) + depth * torch.cos(angle)
        point = torch.stack([x, -v, z])
        for maps, values in ((positions, point * 0.5 + 0.5), (normals, point / radius * 0.5 + 0.5)):
            maps.append(torch.where(inside, values, torch.ones_like(values)))
    return torch.stack(normals).clamp(0, 1), torch.stack(positions).clamp(0, 1)


def measure(name: str, root: Path, device: str, steps: int, view_size: int) -> dict[str, Any]:
    """Load one model with the production loader and time its multiview call."""
    import numpy as np
    import torch
    from PIL import Image

    from img23d_backend.families.hunyuan3d.paint_models import camera_indices
    from img23d_backend.families.hunyuan3d.turbo import paint_loader

    spec = component_spec(root, name)
    own = paint_steps(spec, 0)
    run_steps = steps or own
    dev = torch.device(device)
    started = time.perf_counter()
    multiview = paint_loader(spec)(Path(str(spec.local_path)), dev).obj
    load_s = time.perf_counter() - started
    azimuths, elevations = (0, 90, 180, 270, 0, 180), (0, 0, 0, 0, 90, -90)
    normals, positions = sphere_maps(view_size, len(azimuths))
    rng = np.random.default_rng(0)
    reference = Image.fromarray(rng.integers(0, 255, (view_size, view_size, 3), dtype=np.uint8), "RGB")
    def call() -> Any:
        with torch.inference_mode():
            out = multiview(reference, normals, positions, camera_indices(azimuths, elevations),
                            size=view_size, steps=run_steps, seed=0)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return out

    with forward_calls(multiview.pipeline.unet, dev) as calls:
        call_s, views = timed(call, 1)  # once: on a CPU one call of a full-size model takes minutes
    split = unet_split(calls, call_s)  # the first call pays one-time costs: steady steps are the later ones
    result = {
        "model": MODELS[name], "folder": str(TARGETS[name]), "load_s": round(load_s, 1),
        "steps_run": run_steps, "own_steps": own, "unet_calls": len(calls),
        "unet_batch": list(calls[0][1]),  # [batch, views, channels, h, w]: batch 2 = the guidance copy
        **split.figures(),
        "multiview_phase_s": round(split.projected(own), 1),  # projected to its own steps
        "views": list(views.shape),
    }
    print(f"{name}: {result}", flush=True)
    return result


def multiview_arguments(parser: argparse.ArgumentParser, view_size: int, view_help: str) -> None:
    """What a benchmark of paint models' multiview phase takes beside the full-size arguments: the steps
    run of each model and the views' side (``view_size`` by default, ``view_help`` saying why)."""
    parser.add_argument("--steps", type=int, default=2, help="steps run per model; 0: each model's own")
    parser.add_argument("--view-size", type=int, default=view_size, help=view_help)


def main(argv: list[str] | None = None) -> int:
    parser = full_size_parser(__doc__)
    multiview_arguments(parser, 512, "the views' side (512: as trained)")
    args = parser.parse_args(argv)
    prepare_imports()
    import torch

    results = {name: measured_replica(args, name, lambda: measure(name, args.models_dir, args.device, args.steps,
                                                                  args.view_size))
               for name in MODELS}
    ratio = results["paint-turbo"]["multiview_phase_s"] / results["paint"]["multiview_phase_s"]
    device = device_name(args)
    report = {
        "device": device, "torch": torch.__version__, "view_size": args.view_size, "views": 6,
        "measured": ("the multiview call of each full-size random-weight replica (production loader and call, six "
                     f"views at {args.view_size} px), {'each model' + chr(39) + 's own' if not args.steps else args.steps}"
                     " steps run with each UNet call timed; multiview_phase_s = time outside the UNet + the median UNet call "
                     "after the first x the model's own steps (turbo 10, 2.0 30)"),
        "models": results, "ratio_turbo_to_2_0": round(ratio, 3), "goal": f"ratio <= {GOAL}",
        "goal_met": ratio <= GOAL, "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 1),
    }
    return report_done(args, report, f"turbo / 2.0 multiview phase: {ratio:.3f} (goal <= {GOAL})")


if __name__ == "__main__":
    raise SystemExit(main())
