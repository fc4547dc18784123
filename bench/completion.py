"""The completion step beside the shape step it comes before, side by side in one run (issue 48).

    .venv/bin/python bench/completion.py --models-dir DIR [--build] [--edit-steps 1] [--shape-steps 2]
        [--working-pixels 1048576] [--octree 256] [--device cpu] [--dtype production|bfloat16|float32]
        [--json bench/results/completion-cpu.json]

Full-size random-weight replicas (``bench/full_size_models.py``: components ``editor``, FLUX.2 [klein]
4B; ``matting``, BiRefNet; ``shape``, Hunyuan3D-2 mini turbo, the default family's shape model), each
loaded with its production loader and run by the production calls, one model part at a time:

* completion, for one covered target: the editor's three phases as ``editors.driver`` runs them
  (``encode_instructions`` with the text encoder; ``denoise`` with the transformer and VAE, each
  transformer call timed; ``decode`` with the VAE), then BiRefNet matting the completed picture
  again (``matting.driver.matte``, as ``jobs.steps.completing`` re-mattes); the denoising is projected to
  the model's own 4 steps as the time outside the transformer + the median transformer call after the
  first (or the first, with one step run) x 4;
* the shape step for the same target: ``bench/step1x_geometry.run_hunyuan`` (the production
  ``generate_shapes``), projected to mini turbo's own 5 steps: encode + 5 x the median step + decode.

Each part is loaded, run and freed before the next, as the model manager's phased placement does on a
small card. The editor runs in the dtype production gives it on the device (``editor_dtype``: float32
on every CPU, bfloat16 on CUDA) unless ``--dtype`` names another (bfloat16 on a CPU halves the memory
and is fast only where the processor has bfloat16 matrix units, as Intel's AMX: the JSON's
``processor`` says which flags the machine had); the others run in their loaders' dtype. The device's
matrix-product speed in the editor's dtype (``models.throughput``, the figure the preflight's estimates
scale by) is measured at the start and the end. Load times are reported apart from the run times.
Random weights change no compute; what a completion looks like cannot be judged here.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from step1x_geometry import cutout, run_hunyuan  # noqa: E402  (bench/, beside this script; prepares imports)
from timing import (conditions, device_name, forward_calls, full_size_parser, report_done, steady,  # noqa: E402
                    throughput_figures, timed)  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from img23d_backend.env.job_control import CancelToken  # noqa: E402
from img23d_backend.models.throughput import measure as measure_throughput  # noqa: E402
from img23d_backend.replicas.full import TARGETS, build_full_size_models, component_spec  # noqa: E402
from img23d_backend.jobs.steps.completion.fill import instruction  # noqa: E402
from img23d_backend.editors.pipeline import EditorModel, EditRequest  # noqa: E402
from img23d_backend.editors.flux2_klein.phases import decode, denoise, encode_instructions  # noqa: E402
from img23d_backend.editors.parts import EditorOptions, editor_dtype, load_part  # noqa: E402
from img23d_backend.matting.driver import matte, matting_loader  # noqa: E402
from img23d_backend.matting.table import input_side  # noqa: E402

OWN_EDIT_STEPS = 4   # FLUX.2 [klein] is step-distilled: its model card's 4 steps (editors/flux2_klein/model.py)
OWN_SHAPE_STEPS = 5  # Hunyuan3D-2 mini turbo's own


def load_editor(folder: Path, device: torch.device, parts: tuple[str, ...], options: EditorOptions,
                dtype: torch.dtype) -> tuple[EditorModel, float]:
    """The editor's ``parts`` from ``folder`` by the production loader, as one pipeline, and the seconds it took."""
    started = time.perf_counter()
    loaded = {part: load_part(folder, device, part, options, dtype).obj for part in parts}
    return EditorModel.of(loaded), time.perf_counter() - started


def editor_run_dtype(device: str, asked: str) -> torch.dtype:
    """The editor's dtype for the run: production's on ``device`` (``asked`` "production"), or the one named."""
    return editor_dtype(torch.device(device)) if asked == "production" else getattr(torch, asked)


def measure_completion(root: Path, device: str, steps: int, working_pixels: int,
                       dtype: torch.dtype) -> dict[str, Any]:
    """The editor's phases (in ``dtype``) and the re-matting, on one covered target's crop."""
    dev = torch.device(device)
    spec = component_spec(root, "editor")
    folder = Path(str(spec.local_path))
    options = replace(EditorOptions.of(spec), working_pixels=working_pixels)
    crop = cutout().convert("RGB")
    request = EditRequest(image=crop, instruction=instruction("chair"), seed=0)
    cancel = CancelToken()
    figures: dict[str, Any] = {"dtype": str(dtype).removeprefix("torch."),
                               "production_dtype": dtype == editor_dtype(dev), "working_pixels": working_pixels}

    model, figures["load_text_encoder_s"] = load_editor(folder, dev, ("text_encoder",), options, dtype)
    figures["encode_s"], instructions = timed(lambda: encode_instructions(model, [request], dev, cancel), 1)
    del model
    gc.collect()

    model, figures["load_transformer_vae_s"] = load_editor(folder, dev, ("transformer", "vae"), options, dtype)
    figures["working_size"] = list(model.working_size(crop.size))
    with forward_calls(model.pipeline.transformer, dev) as calls:
        denoise_s, latents = timed(lambda: denoise(model, [request], instructions, cancel, steps=steps), 1)
    transformer_s = sum(seconds for seconds, _ in calls)
    figures.update(steps_run=steps, own_steps=OWN_EDIT_STEPS, transformer_calls=len(calls),
                   transformer_tokens=list(calls[0][1]), denoise_run_s=denoise_s,
                   transformer_s_per_step=steady(calls), outside_transformer_s=denoise_s - transformer_s)
    figures["denoise_s"] = figures["outside_transformer_s"] + figures["transformer_s_per_step"] * OWN_EDIT_STEPS
    figures["decode_s"], [edited] = timed(lambda: decode(model, [request], latents, cancel), 1)
    del model, latents
    gc.collect()

    matting = component_spec(root, "matting")
    started = time.perf_counter()
    birefnet = matting_loader(matting)(Path(str(matting.local_path)), dev).obj
    figures["load_matting_s"] = time.perf_counter() - started
    figures["rematte_s"], _ = timed(lambda: matte(birefnet, [edited], batch_size=1, cancel=cancel,
                                                  progress=lambda *a: None, input_size=input_side(matting)), 1)
    del birefnet
    gc.collect()
    figures["completion_s"] = (figures["encode_s"] + figures["denoise_s"] + figures["decode_s"]
                               + figures["rematte_s"])
    figures["load_s"] = (figures["load_text_encoder_s"] + figures["load_transformer_vae_s"]
                         + figures["load_matting_s"])
    return {key: round(value, 2) if isinstance(value, float) else value for key, value in figures.items()}


def measure_shape(root: Path, device: str, steps: int, octree: int) -> dict[str, Any]:
    """The default shape model on the same target (its cut-out), projected to its own steps."""
    figures = run_hunyuan(root, steps, octree, device)
    shape_s = figures["encode"] + figures["step"] * OWN_SHAPE_STEPS + figures["decode"]
    return {"model": "Hunyuan3D-2 mini turbo (5 steps)", "octree": octree, "steps_run": steps,
            "own_steps": OWN_SHAPE_STEPS, "load_s": round(figures["load"], 2), "encode_s": round(figures["encode"], 2),
            "step_s": round(figures["step"], 2), "decode_s": round(figures["decode"], 2),
            "shape_s": round(shape_s, 2), "faces": figures["faces"]}


def main(argv: list[str] | None = None) -> int:
    parser = full_size_parser(__doc__, delete=False)
    parser.add_argument("--edit-steps", type=int, default=1, help="editor steps run; 0: its own (4)")
    parser.add_argument("--shape-steps", type=int, default=2, help="shape steps run (at least 1)")
    parser.add_argument("--working-pixels", type=int, default=1024 * 1024,
                        help="the area a crop is edited at (the registry's: 1024 x 1024)")
    parser.add_argument("--octree", type=int, default=256, help="the shape's surface grid (the product's: 256)")
    parser.add_argument("--no-shape", action="store_true", help="the completion alone (no shape step beside it)")
    parser.add_argument("--dtype", default="production", choices=("production", "bfloat16", "float32"),
                        help="the editor's dtype: production's on the device (float32 on a CPU), or another")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    dtype = editor_run_dtype(args.device, args.dtype)
    throughput_before = measure_throughput(torch.device(args.device), dtype)
    if args.build:
        wanted = ("editor", "matting") + (() if args.no_shape else ("shape",))
        build_full_size_models(args.models_dir, [name for name in wanted if not (args.models_dir / TARGETS[name]).exists()])
    completion = measure_completion(args.models_dir, args.device, args.edit_steps or OWN_EDIT_STEPS,
                                    args.working_pixels, dtype)
    throughput_after = measure_throughput(torch.device(args.device), dtype)
    print(f"completion: {completion}", flush=True)
    shape = None if args.no_shape else measure_shape(args.models_dir, args.device, args.shape_steps, args.octree)
    print(f"shape: {shape}", flush=True)
    ratio = completion["completion_s"] / shape["shape_s"] if shape else None
    report = {
        "device": device_name(args), "torch": torch.__version__,
        "measured": ("full-size random-weight replicas through their production loaders and calls, one part at a "
                     "time, in one run: one covered target's completion (FLUX.2 [klein] 4B's three phases, then "
                     "BiRefNet re-matting) and the same target's shape step (Hunyuan3D-2 mini turbo), each projected "
                     "to the model's own steps from its timed calls; loading apart"),
        # What this run left out of the product's path, said where the figures are.
        "scope": (f"the crop edited at {args.working_pixels:,} pixels' area (the product's default: 1,048,576), "
                  f"{args.edit_steps or OWN_EDIT_STEPS} editor step(s) run and projected to its own "
                  f"{OWN_EDIT_STEPS}" + ("; no shape step beside it (--no-shape)" if args.no_shape else "")),
        "completion": completion, "shape": shape, "ratio_completion_to_shape": round(ratio, 3) if ratio else None,
        "throughput_gflops": throughput_figures(throughput_before, throughput_after),  # in the editor's dtype
        **conditions(load_before),
    }
    return report_done(args, report, ratio and f"completion / shape: {ratio:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
