"""A part and a 50-joint rig on this device, through the production code, beside what the preflight says (issue 74).

    python3 bench/parts_rig_gpu.py --device cuda --json $OUT/parts-rig-gpu-<device>.json [--sizes full|tiny]

Both models are built in memory on the device with random weights (the compute is the real architecture's;
no files, so nothing to build beforehand): AutoPartGen's DiT, VAE and DINOv2 at the released sizes, and
SkinTokens' 544 M parameters (bfloat16 on a GPU, float32 on a CPU, as the rigger loads it). Measured with the
device synchronised around every figure:

* ``part_seconds``: one part from a mesh (the bundled house mesh, the defaults: 50 steps x 3 guided passes,
  decode at 256, clean-up; ``part_loop.generate_parts`` under ``precision.autocast`` as ``generator.generate``
  runs it) and ``picture_part_seconds``: one part from a picture (the snowman: the whole object drawn first);
  ``part_estimate_seconds``: ``parts.costs.request_estimate`` for the mesh request, as the job says it, and
  ``part_estimate_split`` its terms (the mesh's encoding, the part, one forward) and the probe they read;
* ``rig_seconds_50_joints``: ``pipeline.rig_mesh`` on the house mesh with the decoding's token limit set to
  ``tokens_for(50, 10)`` (random weights write joints until the grammar closes the skeleton for the budget, so
  the skeleton ends near 50 joints: ``rig_joints`` says how many), 10 beams and 54,000 samples;
  ``rig_estimate_seconds`` and ``rig_estimate_gb``: ``rigging.skintokens.costs``'s for the full model here;
  ``rig_peak_gb``: the device's peak allocation during the rig.

``--sizes tiny`` runs the same code on the tiny configurations (a check that the script runs, on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from source_paths import REPO

from img23d_backend.env.job_control import CancelToken
from img23d_backend.models import placement
from img23d_backend.models.throughput import probe
from img23d_backend.parts import costs as part_costs
from img23d_backend.parts.autopartgen import config as part_sizes
from img23d_backend.parts.autopartgen import replica as part_replica
from img23d_backend.parts.autopartgen.conditioner import ImageConditioner
from img23d_backend.parts.autopartgen.loader import AutoPartGenNetworks
from img23d_backend.parts.autopartgen.model import PARTS_SPEC
from img23d_backend.parts.autopartgen.part_loop import generate_parts
from img23d_backend.parts.autopartgen.precision import autocast
from img23d_backend.parts.part import PartsRequest
from img23d_backend.parts.table import row_of
from img23d_backend.rigging.skintokens import config as rig_sizes
from img23d_backend.rigging.skintokens import costs as rig_costs
from img23d_backend.rigging.skintokens.decoding import DecodingSettings
from img23d_backend.rigging.skintokens.model import build_on_meta
from img23d_backend.rigging.skintokens.pipeline import RigSettings, rig_mesh
from img23d_backend.rigging.skintokens.rigger import SPEC as RIG_SPEC

JOINTS, BRANCHES = 50, 10


def _synchronised(device: torch.device, work: Callable[[], Any]) -> tuple[Any, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    result = work()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - started


def _peak_gb(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 1e9, 2) if device.type == "cuda" else None


def _house() -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    mesh = trimesh.load(REPO / "examples" / "house_mesh.glb", force="mesh")
    return np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int64)


def parts_networks(sizes: str, device: torch.device) -> AutoPartGenNetworks:
    config = part_sizes.full() if sizes == "full" else part_sizes.tiny()
    with torch.device(device):
        built = part_replica.construct(config)
        conditioner = ImageConditioner(config.conditioner)
    modules = [conditioner, built["dit"], built["vae"]]
    for module in modules:
        module.eval().requires_grad_(False)
    return AutoPartGenNetworks(config, conditioner, built["dit"], built["vae"])


def measure_parts(networks: AutoPartGenNetworks, device: torch.device, grid: int, steps: int) -> dict[str, Any]:
    vertices, faces = _house()
    from_mesh = PartsRequest(vertices=vertices, faces=faces, max_parts=1, grid=grid, steps=steps)
    picture = Image.open(REPO / "examples" / "snowman.png").convert("RGBA")
    from_picture = PartsRequest(image=picture, max_parts=1, grid=grid, steps=steps)
    results: dict[str, Any] = {}
    for name, request in (("part", from_mesh), ("picture_part", from_picture)):
        with autocast(device):
            made, seconds = _synchronised(device, lambda r=request: generate_parts(
                r, networks, lambda progress: None, CancelToken()))
        results[f"{name}_seconds"] = round(seconds, 2)
        results[f"{name}_made"] = len(made)
        print(f"{name}: {seconds:.1f} s, {len(made)} made", flush=True)
    estimate = part_costs.request_estimate(PARTS_SPEC, device, from_mesh)
    results["part_estimate_seconds"] = round(estimate.total_s, 2)
    # The split, so a GPU's figures can check each term (the floor of a forward was derived from a whole part).
    on_gpu = device.type == "cuda"
    gflops = probe(device, torch.bfloat16 if on_gpu else torch.float32).gflops
    results["part_estimate_split"] = {
        "mesh_encoding_s": round(estimate.whole_s, 3), "part_s": round(estimate.part_s, 3),
        "forward_s": round(part_costs.forward_seconds(row_of(PARTS_SPEC), gflops, on_gpu), 4),
        "probe_gflops": round(gflops, 1)}
    results["parts_peak_gb"] = _peak_gb(device)
    return results


def rig_model(sizes: str, device: torch.device) -> Any:
    config = rig_sizes.FULL if sizes == "full" else rig_sizes.TINY
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = build_on_meta(config)
    generator = torch.Generator(device).manual_seed(0)
    state = {key: (torch.randn(value.shape, generator=generator, device=device) * 0.02).to(dtype)
             for key, value in model.state_dict().items()}
    placement.assign_weights(model, state, device, dtype)
    model.transformer.tie_weights()
    model.round_rope_like_upstream()
    return model.eval().requires_grad_(False)


def measure_rig(model: Any, device: torch.device) -> dict[str, Any]:
    vertices, faces = _house()
    budget = rig_costs.tokens_for(JOINTS, BRANCHES)
    settings = RigSettings(decoding=DecodingSettings(max_new_tokens=budget))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rig, seconds = _synchronised(device, lambda: rig_mesh(model, vertices, faces, settings))
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    floor = rig_costs.GPU_STEP_FLOOR_S if device.type == "cuda" else 0.0   # as estimate_here counts a GPU's steps
    estimate = rig_costs.rig_estimate(probe(device, dtype).gflops, 1.0, DecodingSettings(), joints=len(rig.joints),
                                      step_floor_s=floor)
    phase = rig_costs.rig_phase(RIG_SPEC, device)
    print(f"rig: {seconds:.1f} s, {len(rig.joints)} joints, {len(rig.tokens)} tokens", flush=True)
    return {"rig_seconds_50_joints": round(seconds, 2), "rig_joints": len(rig.joints), "rig_tokens": len(rig.tokens),
            "rig_token_limit": budget, "rig_estimate_seconds": round(estimate.total_s, 2),
            # Whole seconds over tokens (an upper bound on a step: the encoders and the skin are in it) beside
            # the step the estimate counts, so ``GPU_STEP_FLOOR_S`` can be set from this device's figure.
            "rig_seconds_per_token": round(seconds / max(1, len(rig.tokens)), 4), "rig_step_floor_s": floor,
            "rig_cache": "static, CUDA graph" if device.type == "cuda" else "growing",
            "rig_peak_gb": _peak_gb(device),
            "rig_estimate_gb": round((phase.need.device or phase.need.host) / 1e9, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", choices=("full", "tiny"), default="full")
    parser.add_argument("--grid", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--only", nargs="*", choices=("parts", "rig"), default=["parts", "rig"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    results: dict[str, Any] = {"device": name, "commit": os.environ.get("IMG23D_COMMIT", ""),  # gpu_benchmarks.sh's
                               "sizes": args.sizes, "torch": torch.__version__, "complete": False}

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")

    with torch.no_grad():
        if "rig" in args.only:   # the shorter one first: a call cut at its limit keeps it
            model, built = _synchronised(device, lambda: rig_model(args.sizes, device))
            results["rig_build_seconds"] = round(built, 2)
            results.update(measure_rig(model, device))
            del model
            save()
        if "parts" in args.only:
            networks, built = _synchronised(device, lambda: parts_networks(args.sizes, device))
            results["parts_build_seconds"] = round(built, 2)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            results.update(measure_parts(networks, device, args.grid, args.steps))
            save()
    results["complete"] = True
    save()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
