"""Delighting in fewer steps: each step count's result against the 50-step one (issue 89 item 3).

    .venv/bin/python bench/delight_steps.py [--folder DIR] [--steps 50 30 20 15 10 5] [--device cuda]
        [--reference examples/snowman.png] [--size 512] [--repeat 2] [--json FILE]

Hunyuan3D-2's delight model (InstructPix2Pix with Euler ancestral sampling) runs 50 steps on each object's
cut-out before it is painted (``--delight-steps``, 50 by default, hy3dgen's). This runs the paint step's own
delighting (``paint_models.delight_loader`` and ``Delighter``: the same input preparation, guidance, seed
and colour matching) on one cut-out at each step count and compares every result with the 50-step one,
inside the object: the mean and 99th percentile of the absolute difference in levels of 255, and the PSNR.
Euler ancestral adds fresh noise at each step, so two 50-step runs from different seeds differ too: that
spread (``seed_spread``) is the yardstick. A step count keeps the output when its difference from the
50-step result is within the seed spread (``keeps``); the fewest such count is ``fewest_kept``.

``--folder`` is a Hunyuan3D-2 snapshot (the folder holding ``hunyuan3d-delight-v2-0``) with the real weights:
only they say which step count keeps the output. Without it the tiny replica under ``IMG23D_TINY_MODELS``
runs, whose random weights make the differences meaningless: its figures check the script and give the
seconds' ratios only. Each result's seconds are the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)
from source_paths import REPO  # noqa: E402
from timing import device_label, step_count_args, step_count_arguments  # noqa: E402

from img23d_backend.catalog import model_set, tiny_model_set  # noqa: E402
from img23d_backend.env.torch_shims import prepare_torchvision  # noqa: E402
from img23d_backend.families.hunyuan3d.paint import recenter_reference  # noqa: E402
from img23d_backend.families.hunyuan3d.paint_models import delight_loader  # noqa: E402

FULL_STEPS = 50   # hy3dgen's, and the job's default
SEED = 42         # the paint step's delight seed (its seed + 42)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    step_count_arguments(parser, "a Hunyuan3D-2 snapshot with the real delight weights", [50, 30, 20, 15, 10, 5],
                         "the side it delights at (the paint model's view)")
    parser.add_argument("--reference", type=Path, default=REPO / "examples" / "snowman.png")
    args = step_count_args(parser)
    import torch
    from PIL import Image

    if args.folder is not None:
        spec, folder, weights = model_set("default").delight, args.folder, "real"
        if not (folder / (spec.subfolder or "hunyuan3d-delight-v2-0")).is_dir():
            parser.error(f"{folder} holds no {spec.subfolder or 'hunyuan3d-delight-v2-0'} folder")
    else:
        root = os.environ.get("IMG23D_TINY_MODELS")
        if not root:
            parser.error("give --folder (real weights) or set IMG23D_TINY_MODELS (the tiny replica)")
        spec = tiny_model_set(Path(root)).delight
        folder, weights = spec.local_path, "tiny replica (random weights: the differences mean nothing)"
    device = torch.device(args.device)
    prepare_torchvision()  # before diffusers' pipelines import transformers' CLIP (as the backend does)
    started = time.perf_counter()
    delighter = delight_loader(spec)(folder, device).obj
    load_s = time.perf_counter() - started
    reference = recenter_reference(Image.open(args.reference))
    mask = _inside(reference, args.size)

    def delight(steps: int, seed: int) -> tuple[np.ndarray, float]:
        seconds = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            image = delighter(reference, size=args.size, steps=steps, seed=seed)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - began)
        return np.asarray(image, dtype=np.float32), statistics.median(seconds)

    full, full_s = delight(FULL_STEPS, SEED)
    other_seed, _ = delight(FULL_STEPS, SEED + 1)
    spread = _difference(other_seed, full, mask)
    rows = {}
    for steps in sorted(set(args.steps) - {FULL_STEPS}, reverse=True):
        result, seconds = delight(steps, SEED)
        rows[str(steps)] = {**_difference(result, full, mask), "seconds": round(seconds, 3),
                            "time_ratio": round(seconds / full_s, 3)}
        rows[str(steps)]["keeps"] = rows[str(steps)]["mean_levels"] <= spread["mean_levels"]
        print(f"{steps:3} steps: {seconds:7.2f} s ({seconds / full_s:.2f} of 50), mean difference "
              f"{rows[str(steps)]['mean_levels']:.2f} levels (seed spread {spread['mean_levels']:.2f})")
    kept = [int(steps) for steps, row in rows.items() if row["keeps"]]
    report = {
        "what": "the paint step's delighting at each step count against its 50-step result, inside the object",
        "weights": weights, "device": device_label(device), "reference": args.reference.name, "size": args.size,
        "repeat": args.repeat, "load_s": round(load_s, 2), "full_steps_s": round(full_s, 3),
        "seed_spread": spread, "steps": rows, "fewest_kept": min(kept) if kept else FULL_STEPS,
        "verified": args.folder is not None,
    }
    print(f"fewest steps within the seed spread: {report['fewest_kept']}"
          + ("" if args.folder else " (tiny replica: not a verdict)"))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _inside(reference: Any, size: int) -> np.ndarray:
    """The object's pixels at the delight's side (its alpha over half; every pixel for a picture without one)."""
    from PIL import Image

    if reference.mode != "RGBA":
        return np.ones((size, size), dtype=bool)
    alpha = reference.getchannel("A").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(alpha) > 127


def _difference(result: np.ndarray, full: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """``result`` against ``full`` inside ``mask``: mean and 99th percentile of the absolute difference in levels
    of 255, and the PSNR in dB."""
    difference = np.abs(result - full)[mask]
    mse = float(np.mean(difference ** 2))
    return {"mean_levels": round(float(difference.mean()), 3),
            "p99_levels": round(float(np.percentile(difference, 99)), 3),
            "psnr_db": round(10 * np.log10(255.0 ** 2 / mse), 2) if mse > 0 else None}


if __name__ == "__main__":
    sys.exit(main())
