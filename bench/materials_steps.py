"""The material maps in fewer steps: Marigold-IID-Appearance at 1 step against its own 4, and the views batched
against one at a time (issue 89 item 3).

    .venv/bin/python bench/materials_steps.py [--folder DIR] [--steps 1 2] [--device cuda] [--size 512]
        [--repeat 2] [--json FILE]

The material step (``materials.marigold.pipeline``: the production loader and estimate) on six views of one
object (the snowman cut-out, turned and mirrored as six cameras would see different sides; composited on
white as painted views are), at ``--size``: its own steps (``model_index.json``'s, 4 for the published model)
one view a call, as the step ran before; then every view in one call at each of ``--steps``. Each result's
roughness and metallic maps are compared with the own-steps ones, in levels of 255 (mean and 99th
percentile over the views' object pixels). DDIM from the same seeded noise is deterministic, so the spread
of the own-steps maps from another seed is the yardstick: a step count keeps the maps when its difference is
within it (``keeps``).

``--folder`` is a downloaded ``prs-eth/marigold-iid-appearance-v1-1`` folder (real weights): only it says
whether one step keeps the maps. Without it the tiny replica under ``IMG23D_TINY_MODELS`` runs: its random
weights make the differences meaningless, and its seconds say what batching and fewer steps save in calls.
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

from img23d_backend.catalog import tiny_model_set  # noqa: E402
from img23d_backend.env.job_control import CancelToken  # noqa: E402
from img23d_backend.materials.marigold.pipeline import estimate_materials, load_materials  # noqa: E402

SEED = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    step_count_arguments(parser, "a marigold-iid-appearance-v1-1 folder with the real weights", [1, 2],
                         "the painted views' side")
    args = step_count_args(parser)
    import torch

    if args.folder is not None:
        folder, weights = args.folder, "real"
    else:
        root = os.environ.get("IMG23D_TINY_MODELS")
        if not root:
            parser.error("give --folder (real weights) or set IMG23D_TINY_MODELS (the tiny replica)")
        folder = tiny_model_set(Path(root)).materials.local_path
        weights = "tiny replica (random weights: the differences mean nothing)"
    device = torch.device(args.device)
    started = time.perf_counter()
    model = load_materials(folder, device).obj
    load_s = time.perf_counter() - started
    views, inside = _views(args.size)
    own = model.default_steps

    def estimate(steps: int, batch: int, seed: int = SEED) -> tuple[np.ndarray, float]:
        seconds = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            maps = estimate_materials(model, views, CancelToken(), steps=steps, batch=batch, seed=seed)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - began)
        stacked = np.stack([np.stack([found.roughness, found.metallic]) for found in maps]) * 255.0
        return stacked, statistics.median(seconds)

    before, before_s = estimate(own, 1)
    spread = _difference(estimate(own, 1, SEED + 1)[0], before, inside)
    rows = {}
    for steps in sorted(set(args.steps) | {own}):
        result, seconds = estimate(steps, 0)
        row = {**_difference(result, before, inside), "seconds": round(seconds, 3),
               "time_ratio": round(seconds / before_s, 3)}
        row["keeps"] = row["mean_levels"] <= spread["mean_levels"]
        rows[str(steps)] = row
        print(f"{steps} steps, six views a call: {seconds:.2f} s ({seconds / before_s:.2f} of {own} steps one "
              f"view a call), mean difference {row['mean_levels']:.2f} levels (seed spread {spread['mean_levels']:.2f})")
    report = {
        "what": "the material step on six views: its own steps one view a call against every view in one call at "
                "each step count; roughness and metallic maps in levels of 255 over the object's pixels",
        "weights": weights, "device": device_label(device), "size": args.size, "views": len(views),
        "own_steps": own, "repeat": args.repeat, "load_s": round(load_s, 2),
        "own_steps_one_view_a_call_s": round(before_s, 3), "seed_spread": spread, "batched": rows,
        "verified": args.folder is not None,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _views(size: int) -> tuple[list[Any], np.ndarray]:
    """Six views of the snowman cut-out on white (turned and mirrored), and where the object is in each."""
    from PIL import Image

    cutout = Image.open(REPO / "examples" / "snowman.png").convert("RGBA").resize((size, size))
    turns = [cutout, cutout.transpose(Image.Transpose.FLIP_LEFT_RIGHT), cutout.rotate(8), cutout.rotate(-8),
             cutout.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(15), cutout.rotate(-15)]
    views, inside = [], []
    for turned in turns:
        white = Image.new("RGBA", turned.size, (255, 255, 255, 255))
        views.append(Image.alpha_composite(white, turned).convert("RGB"))
        inside.append(np.asarray(turned.getchannel("A")) > 127)
    return views, np.stack(inside)


def _difference(result: np.ndarray, reference: np.ndarray, inside: np.ndarray) -> dict[str, float]:
    """Both maps of every view against the reference's, over the views' object pixels, in levels of 255."""
    difference = np.abs(result - reference)[np.repeat(inside[:, None], 2, axis=1)]
    return {"mean_levels": round(float(difference.mean()), 3),
            "p99_levels": round(float(np.percentile(difference, 99)), 3)}


if __name__ == "__main__":
    sys.exit(main())
