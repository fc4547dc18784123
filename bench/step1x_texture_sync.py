"""What the licence-clean paint model's texture sync costs, beside the unsynchronised run, in one run.

    .venv/bin/python bench/step1x_texture_sync.py --models-dir DIR [--build] [--steps 2] [--view-size 256]
        [--device cpu] [--cpu-bfloat16] [--json bench/results/step1x-texture-sync-cpu.json]

The full-size random-weight replica of the clean paint model (``bench/full_size_models.py``,
component ``step1x-texture``), loaded by the production loader, paints the repository's example
mesh (``examples/house_mesh.glb``, 40k faces, no UVs) through the calls ``families.step1x.texture.paint``
makes: its position and normal maps as control maps, then ``generate_views`` twice with one seed,
sync off and sync on (the mesh unwrapped and laid out as the sync's latent atlas first), each UNet
call and each synchronised step timed.

Part one, side by side: ``--steps`` at ``--view-size`` (2 steps: t = 501, synchronised, and t = 1,
not). The multiview phase is projected to the model's own 50 steps as ``bench/step1x_texture.py``
projects it (time outside the denoising UNet calls + the median denoising call x 50); the sync
adds its atlas (its unwrap counted apart: the bake would unwrap anyway), its start, its own work
per synchronised step x 25 (the steps with t > 500 of 50) and the 14 background colours' encoding
by the VAE (each once, when first drawn).

Part two, the sync alone at the model's own view size (768 px, latents of 96, the 1536-texel atlas):
the atlas, the start and 25 synchronised steps fed random noise predictions in place of the UNet's
(the sync's work does not depend on them), every background colour encoded as it is first drawn.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import statistics
import sys
import time
from typing import Any

from source_paths import REPO  # this checkout's packages on sys.path, the hub offline

from timing import full_size_parser  # noqa: E402  (bench/, beside this script)

from img23d_backend.models.registry import paint_steps  # noqa: E402
from img23d_backend.models.replica_common import prepare_imports, write_json  # noqa: E402
from img23d_backend.replicas.full import TARGETS, build_full_size_models, component_spec  # noqa: E402

CLEAN = "step1x-texture"
MESH = REPO / "examples" / "house_mesh.glb"
FULL_VIEW = 768


def _seconds(values: list[float]) -> float:
    return round(sum(values), 2)


def main(argv: list[str] | None = None) -> int:
    parser = full_size_parser(__doc__, delete=False)
    parser.add_argument("--steps", type=int, default=2, help="steps run in part one (the model's own: 50)")
    parser.add_argument("--view-size", type=int, default=256, help="part one's view size (the model's own: 768)")
    parser.add_argument("--cpu-bfloat16", action="store_true", help="the model in bfloat16 on a CPU")
    args = parser.parse_args(argv)
    prepare_imports()
    import numpy as np
    import torch
    import trimesh
    from PIL import Image

    from img23d_backend.models import hub
    from img23d_backend.families.step1x.texture_folders import TextureFolders
    from img23d_backend.families.step1x.texture import sync as sync_module
    from img23d_backend.families.step1x.texture.bake import uv_mesh
    from img23d_backend.families.step1x.texture.conditions import control_maps
    from img23d_backend.families.step1x.texture.generate import MultiviewSettings, generate_views, vae_scale
    from img23d_backend.families.step1x.texture.loader import load_texture_model, texture_dtype
    from img23d_backend.families.step1x.texture.render import render_maps
    from img23d_backend.families.step1x.texture.scheduler import make_scheduler
    from img23d_backend.families.step1x.texture.uv_latents import build_atlas

    if args.build:
        build_full_size_models(args.models_dir, [CLEAN])
    spec = component_spec(args.models_dir, CLEAN)
    own = paint_steps(spec, 0)
    dev = torch.device(args.device)
    dtype = texture_dtype(dev, args.cpu_bfloat16)
    started = time.perf_counter()
    sdxl, vae = hub.source_dirs(spec)
    model = load_texture_model(TextureFolders.from_snapshots(sdxl, vae, hub.resolve_model_dir(spec)), dev, dtype)
    load_s = time.perf_counter() - started

    def synchronise() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    unet_calls: list[float] = []
    sync_steps: list[float] = []
    sync_starts: list[float] = []

    def timed(call: Any, into: list[float]) -> Any:
        """``call`` wrapped so that each of its calls appends its seconds (the device synchronised) to ``into``."""
        def wrapped(*a: Any, **k: Any) -> Any:
            begun = time.perf_counter()
            out = call(*a, **k)
            synchronise()
            into.append(time.perf_counter() - begun)
            return out
        return wrapped

    timed_forward = timed(model.unet.forward, unet_calls)
    timed_step = timed(sync_module.TextureSync.step, sync_steps)
    timed_start = timed(sync_module.TextureSync.start, sync_starts)
    encodes: list[float] = []
    encode = sync_module.TextureSync._colour_latent

    def timed_encode(self: Any, name: str, like: Any) -> Any:
        fresh = name not in self._colour_latents
        begun = time.perf_counter()
        out = encode(self, name, like)
        synchronise()
        if fresh:
            encodes.append(time.perf_counter() - begun)
        return out

    model.unet.forward = timed_forward
    sync_module.TextureSync.step, sync_module.TextureSync.start = timed_step, timed_start
    sync_module.TextureSync._colour_latent = timed_encode
    source = trimesh.load(MESH, force="mesh")
    rng = np.random.default_rng(0)
    reference = Image.fromarray(rng.integers(0, 255, (args.view_size, args.view_size, 4), dtype=np.uint8), "RGBA")
    settings = MultiviewSettings(steps=args.steps, size=args.view_size)
    latent = args.view_size // vae_scale(model)

    # Part one: the same call with the sync off, then on.
    maps = render_maps(source, args.view_size, dev)
    controls = control_maps(maps.positions, maps.normals, maps.masks)
    runs: dict[str, dict[str, Any]] = {}
    for name in ("off", "on"):
        unet_calls.clear(), sync_steps.clear(), sync_starts.clear(), encodes.clear()
        extra: dict[str, Any] = {}
        atlas = None
        if name == "on":
            begun = time.perf_counter()
            unwrapped = uv_mesh(source)
            extra["unwrap_s"] = round(time.perf_counter() - begun, 2)
            begun = time.perf_counter()
            atlas = build_atlas(unwrapped, latent, settings.sync.texture_size, dev)
            extra["atlas_s"] = round(time.perf_counter() - begun, 2)
            extra["atlas_texels"] = atlas.texels
        begun = time.perf_counter()
        with torch.inference_mode():
            generate_views(model, controls, reference, 0, settings, atlas=atlas)
        synchronise()
        call_s = time.perf_counter() - begun
        denoising = unet_calls[1:]
        runs[name] = {"call_s": round(call_s, 1), "unet_calls": len(unet_calls),
                      "unet_s_per_step": round(statistics.median(denoising[1:] or denoising), 2),
                      "outside_unet_and_sync_s": round(call_s - sum(denoising) - sum(sync_steps), 2),
                      "sync_start_s": _seconds(sync_starts), "sync_steps_run": len(sync_steps),
                      "sync_steps_s": _seconds(sync_steps), "colours_encoded": len(encodes),
                      "colour_encodes_s": _seconds(encodes), **extra}
        print(f"sync {name}: {runs[name]}", flush=True)
    on, off = runs["on"], runs["off"]
    synchronised = sum(1 for t in _timesteps(model, own) if t > 500)
    phase_off = off["outside_unet_and_sync_s"] + off["unet_s_per_step"] * own
    # The sync's own seconds at this size: its atlas, its start, each synchronised step without the
    # colours' encoding x the synchronised steps of the model's own, and each colour encoded once
    # (all 14 are drawn within 25 steps: part two draws them all).
    per_sync_step = (on["sync_steps_s"] - on["colour_encodes_s"]) / max(on["sync_steps_run"], 1)
    per_encode = on["colour_encodes_s"] / max(on["colours_encoded"], 1)
    added = on["atlas_s"] + on["sync_start_s"] + per_sync_step * synchronised + per_encode * len(sync_module.COLOURS)

    # Part two: the sync alone at the model's own size, random noise predictions in place of the UNet's.
    full_latent = FULL_VIEW // vae_scale(model)
    begun = time.perf_counter()
    unwrapped = uv_mesh(source)
    unwrap_full = time.perf_counter() - begun
    begun = time.perf_counter()
    atlas = build_atlas(unwrapped, full_latent, settings.sync.texture_size, dev)
    atlas_full = time.perf_counter() - begun
    scheduler = make_scheduler(model.scheduler_config)
    scheduler.set_timesteps(own, device=dev)
    generator = torch.Generator("cpu").manual_seed(0)
    channels = model.unet.config.in_channels
    sync_steps.clear(), sync_starts.clear(), encodes.clear()
    with torch.inference_mode():
        state = sync_module.TextureSync(model, atlas, scheduler, generator, settings.sync, FULL_VIEW)
        latents = state.start(torch.randn((6, channels, full_latent, full_latent), generator=generator).to(dev))
        for index, timestep in enumerate(scheduler.timesteps):
            if not state.applies(timestep):
                break
            noise = torch.randn(latents.shape, generator=generator).to(dev)
            latents = state.step(noise, timestep, index, latents)
    steps_s = sum(sync_steps)
    full = {"view_size": FULL_VIEW, "latent_size": full_latent, "texture_size": settings.sync.texture_size,
            "atlas_texels": atlas.texels, "unwrap_s": round(unwrap_full, 2), "atlas_s": round(atlas_full, 2),
            "start_s": _seconds(sync_starts), "synchronised_steps": len(sync_steps),
            "steps_s": round(steps_s, 2), "colours_encoded": len(encodes), "colour_encodes_s": _seconds(encodes),
            "steps_s_without_colour_encodes": round(steps_s - sum(encodes), 2),
            "sync_s": round(atlas_full + sum(sync_starts) + steps_s, 1)}
    print(f"sync alone at {FULL_VIEW} px: {full}", flush=True)

    device = args.device_label or (torch.cuda.get_device_name(dev) if dev.type == "cuda" else
                                   f"{args.device} ({platform.machine()}, {os.cpu_count()} cores)")
    report = {
        "device": device, "torch": torch.__version__, "dtype": str(dtype).removeprefix("torch."),
        "model": f"{CLEAN} full-size random-weight replica ({TARGETS[CLEAN]})", "load_s": round(load_s, 1),
        "mesh": f"{MESH.name} ({len(source.faces)} faces, no UVs)",
        "measured": (f"part one: generate_views with one seed, sync off then on, {args.steps} steps at "
                     f"{args.view_size} px (latents of {latent}, a {settings.sync.texture_size}-texel atlas), "
                     "each UNet call and synchronised step timed; multiview_phase_off_s projected to the model's "
                     f"own {own} steps (time outside the UNet and the sync + median UNet step x own steps); "
                     "sync_added_s = the atlas (its unwrap apart: the bake makes it anyway) + the start + the "
                     "mean synchronised step without the colours' encoding x the synchronised steps of the model's "
                     "own (t > 500) + the mean colour encoding x 14 colours. Part two: "
                     f"the sync alone at {FULL_VIEW} px with random noise predictions (the sync's work does not "
                     "depend on them)"),
        "reduced": {"view_size": args.view_size, "steps_run": args.steps, "own_steps": own,
                    "synchronised_of_own_steps": synchronised, "off": off, "on": on,
                    "multiview_phase_off_s": round(phase_off, 1), "sync_s_per_step": round(per_sync_step, 2),
                    "colour_encode_s": round(per_encode, 2), "sync_added_s": round(added, 1),
                    "multiview_phase_on_s": round(phase_off + added, 1),
                    "sync_added_fraction": round(added / phase_off, 4)},
        "sync_at_own_view_size": full,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 1),
    }
    print(f"sync adds {added:.1f} s to a {phase_off:.1f} s multiview phase at {args.view_size} px; "
          f"{full['sync_s']} s at {FULL_VIEW} px", flush=True)
    if args.json is not None:
        write_json(args.json, report)
    del model
    gc.collect()
    return 0


def _timesteps(model: Any, steps: int) -> list[int]:
    from img23d_backend.families.step1x.texture.scheduler import make_scheduler

    scheduler = make_scheduler(model.scheduler_config)
    scheduler.set_timesteps(steps)
    return [int(t) for t in scheduler.timesteps]


if __name__ == "__main__":
    raise SystemExit(main())
