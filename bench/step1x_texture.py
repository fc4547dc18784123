"""The multiview phase of the licence-clean paint model (Step1X-3D's adapter over SDXL base 1.0) beside
Hunyuan3D-Paint 2.0 turbo's, side by side in one run.

    .venv-py313/bin/python bench/step1x_texture.py --models-dir DIR [--build] [--delete] [--steps 2]
        [--view-size 256] [--device cpu] [--cpu-bfloat16] [--json bench/results/step1x-texture-cpu.json]

Both are full-size random-weight replicas (``bench/full_size_models.py``: components ``step1x-texture``
and ``paint-turbo``), loaded with the production loaders and run by the calls the paint stages make:
the clean model's ``families.step1x.texture.generate.generate_views`` (six control maps and a reference; its
own 50 steps with classifier-free guidance, a batch of twelve), and Hunyuan's multiview call as
``bench/paint_turbo.py`` times it (10 steps, no guidance batch). One model at a time: built if
missing (``--build``), loaded, run, freed, its folder deleted after (``--delete``).

Each UNet call is timed. A model's multiview phase is projected to its own steps as: the call's time
outside the UNet's timed steps (prompt encoding, the condition encoder, decoding; for the clean model
also its reference pass, the first UNet call, which runs once) + the median denoising call x its own
steps. Random weights change no compute. On a CPU a few steps and a small view size give the ratio
in minutes; on a GPU ``--steps 0 --view-size 768`` (the clean model's) runs each model's own steps.
The clean model runs in float32 on a CPU, or bfloat16 with ``--cpu-bfloat16`` (8.7 GB of weights in
place of 17.5: what a 23 GB machine holds); Hunyuan's loader picks its own dtype.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from paint_turbo import measure as measure_hunyuan  # noqa: E402  (bench/, beside this script)
from paint_turbo import multiview_arguments, sphere_maps  # noqa: E402
from timing import (device_name, forward_calls, full_size_parser, measured_replica, report_done,  # noqa: E402
                    timed, unet_split)  # noqa: E402

from img23d_backend.models.registry import paint_steps  # noqa: E402
from img23d_backend.models.replica_common import prepare_imports  # noqa: E402
from img23d_backend.replicas.full import TARGETS, component_spec  # noqa: E402

CLEAN = "step1x-texture"
HUNYUAN = "paint-turbo"
LABEL = "Step1X-3D texture over SDXL base 1.0 (50 steps, classifier-free guidance 3.0, six views)"


def measure_clean(root: Path, device: str, steps: int, view_size: int, cpu_bfloat16: bool) -> dict[str, Any]:
    """Load the clean paint model with the production loader and time its multiview sampling."""
    import numpy as np
    import torch
    from PIL import Image

    from img23d_backend.models import hub
    from img23d_backend.families.step1x.texture.conditions import control_maps
    from img23d_backend.families.step1x.texture_folders import TextureFolders
    from img23d_backend.families.step1x.texture.generate import MultiviewSettings, generate_views
    from img23d_backend.families.step1x.texture.loader import load_texture_model, texture_dtype

    spec = component_spec(root, CLEAN)
    own = paint_steps(spec, 0)
    run_steps = steps or own
    dev = torch.device(device)
    dtype = texture_dtype(dev, cpu_bfloat16)
    started = time.perf_counter()
    sdxl, vae = hub.source_dirs(spec)
    model = load_texture_model(TextureFolders.from_snapshots(sdxl, vae, hub.resolve_model_dir(spec)), dev, dtype)
    load_s = time.perf_counter() - started
    normals, positions = sphere_maps(view_size, 6)
    masks = (positions < 1).any(dim=1)
    controls = control_maps(positions.permute(0, 2, 3, 1) - 0.5, normals.permute(0, 2, 3, 1) * 2 - 1, masks)
    rng = np.random.default_rng(0)
    reference = Image.fromarray(rng.integers(0, 255, (view_size, view_size, 4), dtype=np.uint8), "RGBA")
    settings = MultiviewSettings(steps=run_steps, size=view_size)

    def call() -> Any:
        with torch.inference_mode():
            out = generate_views(model, controls.to(dev), reference, 0, settings)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return out

    with forward_calls(model.unet, dev) as calls:
        call_s, views = timed(call, 1)
    reference_s = calls[0][0]  # the reference pass: once per call, whatever the steps
    steps_calls = calls[1:]
    split = unet_split(steps_calls, call_s)
    result = {
        "model": LABEL, "folder": str(TARGETS[CLEAN]), "dtype": str(dtype).removeprefix("torch."),
        "load_s": round(load_s, 1),
        # The adapter's processors are counted inside the UNet's bytes too (weight_bytes["adapter"] is their share).
        "weight_gb": round((sum(model.weight_bytes.values()) - model.weight_bytes.get("adapter", 0)) / 1e9, 2),
        "steps_run": run_steps, "own_steps": own, "unet_calls": len(calls),
        "unet_batch": list(steps_calls[0][1]) if steps_calls else [],  # [views x guidance, channels, h, w]
        "reference_pass_s": round(reference_s, 1), **split.figures(),
        "multiview_phase_s": round(split.projected(own), 1),  # projected to its own steps
        "views": [len(views), *views[0].size],
    }
    print(f"{CLEAN}: {result}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = full_size_parser(__doc__)
    multiview_arguments(parser, 256, "the views' side (the clean model's own: 768)")
    parser.add_argument("--cpu-bfloat16", action="store_true", help="the clean model in bfloat16 on a CPU")
    args = parser.parse_args(argv)
    prepare_imports()
    import torch

    results = {
        CLEAN: measured_replica(args, CLEAN, lambda: measure_clean(args.models_dir, args.device, args.steps,
                                                                   args.view_size, args.cpu_bfloat16)),
        HUNYUAN: measured_replica(args, HUNYUAN, lambda: measure_hunyuan(HUNYUAN, args.models_dir, args.device,
                                                                         args.steps, args.view_size)),
    }
    ratio = results[CLEAN]["multiview_phase_s"] / results[HUNYUAN]["multiview_phase_s"]
    report = {
        "device": device_name(args), "torch": torch.__version__, "view_size": args.view_size, "views": 6,
        "measured": ("the multiview phase of each full-size random-weight replica (production loaders and calls, six "
                     f"views at {args.view_size} px), {args.steps or 'each model' + chr(39) + 's own'} steps run with "
                     "each UNet call timed; multiview_phase_s = time outside the denoising UNet calls (the clean "
                     "model's reference pass included) + the median denoising call x the model's own steps "
                     "(clean 50, turbo 10)"),
        "models": results, "ratio_clean_to_turbo": round(ratio, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 1),
    }
    return report_done(args, report, f"clean / turbo multiview phase: {ratio:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
