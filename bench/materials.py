"""The material step beside the paint step it follows, side by side in one run (issue 47).

    .venv/bin/python bench/materials.py --models-dir DIR [--build] [--delete] [--paint-steps 2]
        [--material-steps 1] [--view-size 512] [--views 6] [--no-paint] [--sides 512] [--device cpu]
        [--json bench/results/materials-cpu.json]

Both models are full-size random-weight replicas (``bench/full_size_models.py``: components
``paint-turbo``, the default paint model, and ``materials``, Marigold-IID-Appearance v1.1), each
loaded with its production loader and run by the call its stage makes:

* the paint step's multiview phase: ``bench/paint_turbo.measure`` (six views of a sphere's normal
  and position maps and a reference picture; each UNet call timed; projected to the model's own
  10 steps as the time outside the UNet + the median UNet call after the first x 10);
* the material step: ``materials/marigold/pipeline.estimate_materials`` on six painted views of the same side
  (the multiview call's own output), at the model's own processing resolution (768, from its
  ``model_index.json``), each UNet call timed; projected to its own 4 steps per view the same way.

``--sides 512`` times the material step again at that processing side, the same views and loaded model
in the same run: the product processes views smaller than the model's side at their own
(``materials.driver.processing_side``), so 512 is what Hunyuan3D-2's views cost now.
``--no-paint --views 1`` measures the material step alone on one view (the preflight's calibration:
``models/step_costs.py``), projected to the paint step's six views. Each run records the device's
matrix-product speed in the material model's dtype (``models.throughput``) before and after, the
figure the preflight's estimate scales by on another device.

A random weight changes no compute. On a CPU a step or two of each is enough for the ratio; on a GPU
``--paint-steps 0 --material-steps 0`` run each model's own steps and project nothing. One model at
a time: built if missing (``--build``), loaded, run, freed, its folder deleted after (``--delete``).
The bake that follows each (the colour's, then the maps' through the same cameras) is not timed
here: ``bench/bake.py`` and the paint stage's timings cover it, and it is the same bake for both.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from paint_turbo import measure as measure_paint  # noqa: E402  (bench/, beside this script)
from timing import (conditions, device_name, forward_calls, full_size_parser, measured_replica,  # noqa: E402
                    report_done, throughput_figures, timed, unet_split)  # noqa: E402

from img23d_backend.env.job_control import CancelToken  # noqa: E402
from img23d_backend.models.replica_common import prepare_imports  # noqa: E402
from img23d_backend.replicas.full import TARGETS, component_spec  # noqa: E402

PAINT, MATERIALS = "paint-turbo", "materials"
PAINTED_VIEWS = 6  # the views a paint step bakes from, which the material step runs on


def measure_materials(root: Path, device: str, views: list[Any], steps: int,
                      sides: tuple[int, ...] = ()) -> dict[str, Any]:
    """Load Marigold-IID-Appearance with the production loader and time the material step on ``views``
    at its own processing side, then at each of ``sides`` (``by_side``), in the same run."""
    import torch

    from img23d_backend.materials.marigold.pipeline import estimate_materials, load_materials

    spec = component_spec(root, MATERIALS)
    dev = torch.device(device)
    started = time.perf_counter()
    model = load_materials(Path(str(spec.local_path)), dev).obj
    load_s = time.perf_counter() - started
    own, resolution = model.default_steps, model.default_resolution
    run_steps = steps or own
    with forward_calls(model.pipeline.unet, dev) as calls:
        call_s, maps = timed(lambda: estimate_materials(model, views, CancelToken(), steps=run_steps), 1)
    split = unet_split(calls, call_s)  # outside the UNet: the VAE's encoding and decoding of each view, resizing
    result = {
        "model": "Marigold-IID-Appearance v1.1 (its own steps per view, at its own processing resolution)",
        "folder": str(TARGETS[MATERIALS]), "load_s": round(load_s, 1), "views": len(views),
        "view_size": list(views[0].size), "processing_resolution": resolution, "steps_run": run_steps,
        "own_steps": own, "unet_calls": len(calls), "unet_batch": list(calls[0][1]),
        **split.figures(),
        "material_step_s": round(split.projected(own * len(views)), 1),  # projected to its own steps
        # Projected to the paint step's six views as well: what one painted object costs.
        "per_object_s": _per_object(split, len(views), own),
        "maps": [list(m.roughness.shape) for m in maps][:1],
    }
    by_side = {}
    for side in sides:  # the same views, the same loaded model, processed at another side
        with forward_calls(model.pipeline.unet, dev) as calls:
            side_s, _ = timed(lambda: estimate_materials(model, views, CancelToken(), steps=run_steps,
                                                         resolution=side), 1)
        other = unet_split(calls, side_s)
        per_object = _per_object(other, len(views), own)
        by_side[str(side)] = {**other.figures(), "per_object_s": per_object,
                              "ratio_to_own_side": round(per_object / result["per_object_s"], 3)}
    if by_side:
        result["by_side"] = by_side
    print(f"{MATERIALS}: {result}", flush=True)
    return result


def _per_object(split: Any, views: int, own_steps: int) -> float:
    """One painted object's material step from a run on ``views`` views (its ``UnetSplit``): each of the
    paint step's six views, its share of the time outside the UNet and its own steps."""
    return round((split.rest / views + split.per_step * own_steps) * PAINTED_VIEWS, 1)


def main(argv: list[str] | None = None) -> int:
    parser = full_size_parser(__doc__)
    parser.add_argument("--paint-steps", type=int, default=2, help="paint steps run; 0: its own (10)")
    parser.add_argument("--material-steps", type=int, default=1, help="material steps run per view; 0: its own (4)")
    parser.add_argument("--view-size", type=int, default=512, help="the painted views' side (512: as trained)")
    parser.add_argument("--views", type=int, default=PAINTED_VIEWS, help="views the material step runs on")
    parser.add_argument("--no-paint", action="store_true", help="the material step alone (no paint model)")
    parser.add_argument("--sides", type=int, nargs="*", default=[],
                        help="also time the material step at these processing sides, in the same run")
    args = parser.parse_args(argv)
    prepare_imports()
    import numpy as np
    import torch
    from PIL import Image

    from img23d_backend.materials.marigold.model import materials_dtype
    from img23d_backend.models.throughput import measure as measure_throughput

    load_before = os.getloadavg()
    dtype = materials_dtype(torch.device(args.device))
    throughput_before = measure_throughput(torch.device(args.device), dtype)
    paint = None
    if not args.no_paint:
        paint = measured_replica(args, PAINT, lambda: measure_paint(PAINT, args.models_dir, args.device,
                                                                    args.paint_steps, args.view_size))
    # The painted views the material step reads: six of the multiview call's side, each a different
    # picture (random weights paint noise; the step's compute does not depend on what they show).
    rng = np.random.default_rng(0)
    views = [Image.fromarray(rng.integers(0, 255, (args.view_size, args.view_size, 3), dtype=np.uint8), "RGB")
             for _ in range(args.views)]
    materials = measured_replica(args, MATERIALS, lambda: measure_materials(args.models_dir, args.device, views,
                                                                            args.material_steps, tuple(args.sides)))
    throughput_after = measure_throughput(torch.device(args.device), dtype)
    ratio = materials["per_object_s"] / paint["multiview_phase_s"] if paint else None
    report = {
        "device": device_name(args), "torch": torch.__version__, "view_size": args.view_size, "views": args.views,
        "measured": ("full-size random-weight replicas through their production loaders and calls, one after the "
                     "other in one run: the turbo paint model's multiview phase (six views) and the material step "
                     "(Marigold-IID-Appearance on six painted views of the same side, at its own processing "
                     "resolution); each projected to the model's own steps from its timed UNet calls "
                     "(time outside the UNet + median UNet call after the first x own steps)"),
        "paint": paint, "materials": materials, "ratio_materials_to_paint": round(ratio, 3) if ratio else None,
        "throughput_gflops": throughput_figures(throughput_before, throughput_after),  # in the model's dtype
        **conditions(load_before),
    }
    return report_done(args, report, ratio and f"material step / paint multiview phase: {ratio:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
