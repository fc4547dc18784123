"""Full-size, random-weight replicas of every model the chain uses, for honest benchmarks.

The command line over ``img23d_backend.replicas.full``: it builds the same folders as the tiny
replicas with every model at its published size, so a ``ModelSet`` pointing at them
(``full_size_model_set``) loads through the exact production loaders, reads multi-GB files from
disk, and runs the real architectures. Random weights change no compute, so on a GPU these give
true load time, step time and memory; only the outputs are meaningless. Each model's sizes, and
where they come from, are next to them: ``FULL`` in ``grounding/qwen3_vl/replica.py`` and ``matting/birefnet/replica.py``,
``families/hunyuan3d/shape_replica.py`` and ``paint_replica.py``; ``config("full")`` in
``families/step1x/geometry/replica.py`` and ``families/step1x/texture/replica.py``; SkinTokens' (component
``rigging``) ``FULL`` in ``rigging/skintokens/config.py``.

    .venv/bin/python bench/full_size_models.py --out DIR [--only grounding,matting,...]
    .venv/bin/python bench/full_size_models.py --out DIR --check [--device cuda] [--json FILE]

``--check`` loads each built model with its production loader and runs one small forward,
printing load time next to the time it takes just to read the same weight files, forward time
and memory; ``--json FILE`` writes those figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "backend") not in sys.path:
    sys.path.insert(0, str(REPO / "backend"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from img23d_backend.models.replica_common import parameters, prepare_imports, spec_folder, write_json  # noqa: E402
from img23d_backend.replicas.full import (  # noqa: E402
    COMPONENTS,
    build_full_size_models,
    check_names,
    component_spec,
)


# --------------------------------------------------------------------------------------------
# Check: production loaders, one small forward each
# --------------------------------------------------------------------------------------------


def check_full_size_models(root: Path, device: str = "cpu", only: list[str] | None = None,
                           paint_views: int = 2, forward: bool = True,
                           on_result: Callable[[dict[str, dict[str, Any]]], None] | None = None,
                           ) -> dict[str, dict[str, Any]]:
    """Load each built model with its production loader and run one small forward.

    Returns (and prints) load seconds, forward seconds and memory per model. Sizes: grounding
    a 256x256 image and 2 new tokens; matting one 1024x1024 crop; shape one image, 1 step,
    octree 64 (Hunyuan3D-2 mini turbo and Step1X-3D alike); delight and paint one step at 512 (paint with
    ``paint_views`` views); materials one step on the 256x256 picture at 256; editor one step on the
    256x256 picture at its working size (1024x1024's area), qwen-editor two; rigging one icosphere (642
    vertices) with the tiny replica's short decoding (2 beams, 48 tokens). A model that fails
    is recorded with its error (``error``, ``traceback``) and the others go on; ``on_result``
    is given the figures so far after every model.
    """
    prepare_imports()
    import numpy as np
    import torch
    from PIL import Image

    from img23d_backend.env.job_control import CancelToken
    from img23d_backend.grounding.qwen3_vl.ask import GroundingOptions, ground, load_grounding
    from img23d_backend.models.placement import LoadedModel
    from img23d_backend.editors.driver import EditorModel, EditRequest
    from img23d_backend.editors.table import editor_for_pipeline
    from img23d_backend.editors.parts import editor_loader
    from img23d_backend.materials.driver import materials_loader
    from img23d_backend.materials.marigold.pipeline import estimate_materials
    from img23d_backend.matting.driver import matte, matting_loader
    from img23d_backend.families.hunyuan3d.paint_models import camera_indices, delight_loader
    from img23d_backend.families.hunyuan3d.turbo import paint_loader
    from img23d_backend.families.hunyuan3d.shape import generate_shapes, shape_loader
    from img23d_backend.families.step1x.geometry.loader import step1x_loader
    from img23d_backend.families.step1x.geometry.stage import sample_shapes as step1x_sample_shapes
    from img23d_backend.mesh.shapes import ShapeSettings
    from img23d_backend.parts.table import parts_loader
    from img23d_backend.rigging.rigger import RigMesh, RigOptions
    from img23d_backend.rigging.skintokens import rigger as skintokens

    names = check_names(only)
    dev = torch.device(device)
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8), "RGB")
    rgba = np.zeros((512, 512, 4), dtype=np.uint8)
    rgba[..., :3] = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    rgba[128:384, 160:352, 3] = 255  # an opaque box on transparency
    cutout = Image.fromarray(rgba, "RGBA")
    cancel = CancelToken()

    def quiet(*_: Any) -> None:
        return None

    def run_grounding(obj: Any) -> str:
        options = GroundingOptions(max_new_tokens=2, max_pixels=256 * 256)
        answer = ground(obj, picture, ["house"], options=options, cancel=cancel)
        return f"answer {answer.text!r} ({answer.tokens} tokens)"

    def run_matting(obj: Any) -> str:
        out = matte(obj, [picture.resize((1024, 1024))], batch_size=1, cancel=cancel, progress=quiet,
                    input_size=1024)
        alpha = np.asarray(out[0])[..., 3]
        return f"foreground {float((alpha > 127).mean()):.2f}"

    def shape_runner(sample: Any) -> Any:  # each family's own sampler, as its jobs call it
        def run_shape(obj: Any) -> str:
            settings = ShapeSettings(steps=1, octree_resolution=64, guidance_scale=5.0, batch_size=1)
            meshes = sample(obj, [cutout], [0], settings, cancel=cancel, progress=quiet)
            mesh = meshes[0]
            return "no surface" if mesh is None else f"mesh {len(mesh.vertices)} vertices, {len(mesh.faces)} faces"
        return run_shape

    def run_delight(obj: Any) -> str:
        out = obj(cutout, size=512, steps=1, seed=0)
        return f"delit {out.size}"

    def run_materials(obj: Any) -> str:
        [maps] = estimate_materials(obj, [picture], cancel, steps=1, resolution=256)
        return f"roughness and metallic maps {maps.roughness.shape}"

    def all_at_once(part_loaders: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """spec -> Loader: a role's parts (an editor's, a parts model's networks), loaded one by one in
        production, all at once."""
        def whole(spec: Any) -> Any:
            parts = part_loaders(spec).loaders

            def load(folder: Path, device: Any) -> Any:
                loaded = {name: loader(folder, device) for name, loader in parts.items()}
                return LoadedModel(obj={name: one.obj for name, one in loaded.items()},
                                   modules=[module for one in loaded.values() for module in one.modules])
            return load
        return whole

    whole_editor, whole_parts = all_at_once(editor_loader), all_at_once(parts_loader)

    def editor_runner(steps: int) -> Any:
        def run_editor(obj: Any) -> str:
            model, requests = EditorModel.of(obj), [EditRequest(picture, "complete the hidden parts of the object")]
            run = editor_for_pipeline(type(model.pipeline).__name__).phases  # its editor's, as edit_images picks them
            instructions = run.encode(model, requests, dev, cancel)
            latents = run.denoise(model, requests, instructions, cancel, steps=steps)
            [edited] = run.decode(model, requests, latents, cancel)
            return f"edited {edited.size} at {model.working_size(picture.size)}"
        return run_editor

    def run_paint(obj: Any) -> str:
        azimuths, elevations = [0, 90, 180, 270, 0, 180][:paint_views], [0, 0, 0, 0, 90, -90][:paint_views]
        maps = torch.rand(paint_views, 3, 512, 512)
        views = obj(picture, maps, maps.clone(), camera_indices(azimuths, elevations), size=512, steps=1, seed=0)
        return f"views {tuple(views.shape)}"

    def run_parts(obj: Any) -> str:
        # The conditioner on one 448 px picture, one DiT forward at 256 latents (its weights do not depend on
        # the count) with a two-entry history, and one decode at grid 32: every network once, in minutes on a CPU.
        from img23d_backend.parts.autopartgen.conditioner import prepare
        from img23d_backend.parts.autopartgen.surface import BOUNDS, GridSettings, hierarchical_grid

        dit, vae, conditioner = obj["dit"], obj["vae"], obj["conditioner"]
        features = conditioner.features(prepare(picture, 448)[None].to(dev)).float()
        latents = torch.randn(1, 256, dit.config.in_channels, device=dev)
        v = dit(latents, torch.tensor([500.0], device=dev), torch.cat([features, features], -1),
                torch.randn(1, 2, 256, dit.config.latent_dim, device=dev))
        tokens = vae.tokens(latents)
        field = hierarchical_grid(lambda points: vae.query(points[None], tokens)[0],
                                  GridSettings(resolution=32, bounds=BOUNDS), dev)
        return f"features {tuple(features.shape)}, v {tuple(v.shape)}, field {type(field).__name__}"

    def run_rigging(obj: Any) -> str:
        import trimesh

        sphere = trimesh.creation.icosphere(3)
        mesh = RigMesh(np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces, np.int64))
        rig = skintokens.rig_network(obj, mesh, RigOptions(short_decoding=True))
        weighted = int((rig.skin.weights.max(axis=1) > 0).sum())
        return f"{len(rig.skeleton.names)} bones, {weighted} vertices weighted"

    plan = {
        "parts": (whole_parts, run_parts),
        "grounding": (lambda spec: load_grounding, run_grounding),
        "matting": (matting_loader, run_matting),
        "materials": (materials_loader, run_materials),
        "editor": (whole_editor, editor_runner(1)),
        # Two steps: Qwen-Image's scheduler stretches its sigmas to a terminal value, which one step
        # divides by zero (NaN latents, seen with the tiny replica).
        "qwen-editor": (whole_editor, editor_runner(2)),
        "shape": (shape_loader, shape_runner(generate_shapes)),
        "delight": (delight_loader, run_delight),
        "paint": (paint_loader, run_paint),
        "paint-turbo": (paint_loader, run_paint),
        "step1x": (step1x_loader, shape_runner(step1x_sample_shapes)),
        "rigging": (skintokens.loader, run_rigging),
    }

    def check_one(name: str) -> dict[str, Any]:
        spec = component_spec(root, name)
        make_loader, run = plan[name]
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
        started = time.perf_counter()
        loaded = make_loader(spec)(Path(spec.local_path), dev)
        load_s = time.perf_counter() - started
        # The same files read end to end right after: what the load would cost if building and
        # placing the model were free (the files are as warm for this read as the load left them).
        weight_files = _weight_files(spec)
        read_s = _read_seconds(weight_files)
        params = sum(parameters(m) for m in loaded.modules)
        resident = _memory(dev)
        started = time.perf_counter()
        with torch.inference_mode():
            # Without the forward (a CPU takes many minutes over some): loading figures only.
            outcome = run(loaded.obj) if forward else "forward skipped"
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        forward_s = time.perf_counter() - started
        print(f"{name}: {params / 1e6:.1f}M parameters, load {load_s:.1f} s (reading its files {read_s:.1f} s), "
              f"forward {forward_s:.1f} s, "
              f"memory {resident / 1e9:.2f} GB after load, peak {_peak_memory(dev) / 1e9:.2f} GB; {outcome}",
              flush=True)
        return {"params": params, "load_s": round(load_s, 2), "read_s": round(read_s, 2),
                "weight_bytes": sum(p.stat().st_size for p in weight_files), "forward_s": round(forward_s, 1),
                "memory_after_load_gb": round(resident / 1e9, 2), "peak_gb": round(_peak_memory(dev) / 1e9, 2),
                "outcome": outcome}

    results: dict[str, dict[str, Any]] = {}
    for name in names:
        try:
            results[name] = check_one(name)
        except Exception as error:  # noqa: BLE001 - one model's failure on a new device must not hide the others' figures
            results[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-4000:]}
            print(f"{name}: FAILED, {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        gc.collect()
        if on_result is not None:  # written after every model: a run cut short keeps what it measured
            on_result(results)
    return results


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"{device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _weight_files(spec: Any) -> list[Path]:
    """The weight files a component's loader reads (the paint folder's text encoder is never read)."""
    files = [p for p in sorted(spec_folder(spec).rglob("*")) if p.suffix in (".safetensors", ".bin", ".pth")]
    if spec.role == "parts":  # the 4,096-latent DiT is not read (a hard link to the 2,048 one in the replica)
        files = [p for p in files if p.name != "autopartgen_dit_4096.pth"]
    if spec.role == "paint":
        files = [p for p in files if p.parent.name in ("unet", "vae")]
    if spec.role == "shape" and spec.flashvdm_vae:  # read with the DiT's folder
        files += sorted((Path(spec.local_path) / spec.flashvdm_vae).glob("*.safetensors"))
    return files


def _read_seconds(files: list[Path]) -> float:
    """Seconds to read ``files`` end to end into memory, in 64 MiB pieces."""
    started = time.perf_counter()
    for path in files:
        with path.open("rb", buffering=0) as stream:
            while stream.read(64 << 20):
                pass
    return time.perf_counter() - started


def _memory(device: Any) -> int:
    import torch

    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    import psutil

    return psutil.Process().memory_info().rss


def _peak_memory(device: Any) -> int:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # process-wide peak (Linux: KiB)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="target folder (several GB per model)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(COMPONENTS)}")
    parser.add_argument("--check", action="store_true",
                        help="after building, load each with its production loader and run one forward")
    parser.add_argument("--device", default="cpu", help="device for --check (cpu, cuda, cuda:1, mps)")
    parser.add_argument("--paint-views", type=int, default=2, help="views for the paint check (1-6)")
    parser.add_argument("--no-forward", action="store_true", help="with --check, only load each model")
    parser.add_argument("--json", type=Path, default=None,
                        help='with --check, write {"device": ..., "models": {name: {"load_s", "read_s", ...}}}')
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()] or None
    root = build_full_size_models(args.out, only)
    if args.check:
        def report(results: dict[str, dict[str, Any]]) -> None:
            if args.json is not None:
                # The commit the lent machine's copy came from (gpu_benchmarks.sh's IMG23D_COMMIT): JSONs named none.
                write_json(args.json, {"device": _device_name(args.device),
                                       "commit": os.environ.get("IMG23D_COMMIT", ""), "models": results,
                                       **{pkg: metadata.version(pkg) for pkg in ("torch", "transformers", "hy3dgen")}})

        results = check_full_size_models(root, args.device, only, paint_views=args.paint_views,
                                         forward=not args.no_forward, on_result=report)
        if any("error" in figures for figures in results.values()):
            print(f"{sum('error' in f for f in results.values())} model(s) failed: see above", file=sys.stderr)
            return 1
    print(root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
