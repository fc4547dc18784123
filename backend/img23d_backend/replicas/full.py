"""The full-size replica set: every model at its published size, random weights, for benchmarks.

Built in the same folders as the tiny set, so a ``ModelSet`` pointing at them
(``full_size_model_set``) loads through the exact production loaders, reads multi-GB files
from disk, and runs the real architectures. Random weights change no compute, so on a GPU
these give true load time, step time and memory; only the outputs are meaningless (the
grounding replica gives the tiny one's fixed answer, about 230 tokens long, like a real one). Each
model's sizes, and where they come from, are its module's ``FULL``.

    root/
      manifest.json                      one entry per built model (built ones are skipped)
      qwen3-vl/                          Qwen3-VL-2B-Instruct architecture, bf16 safetensors
      birefnet/                          a stand-in of BiRefNet's size (remote-code folder)
      hunyuan3d/hunyuan3d-dit-v2-mini-turbo/   Hunyuan3D-2mini-turbo: config.yaml + model.fp16.safetensors
      hunyuan3d/hunyuan3d-vae-v2-mini-turbo/   its FlashVDM VAE (built with the shape component)
      step1x-3d/Step1X-3D-Geometry-1300m/   Step1X-3D geometry (float32, as published; ~7 GB)
      hunyuan3d-paint/                   Hunyuan3D-2 delight (InstructPix2Pix, SD-2.1 sized), paint
                                         (UNet2p5DConditionModel around an SD-2.1 UNet) and paint-turbo
                                         (the same architecture in the turbo folder's layout)
      step1x-texture/                    the licence-clean paint model: SDXL base 1.0 (fp16 variant only),
                                         the fp16-fix VAE and Step1X-3D's adapter, in their three layouts

Models are made directly in their saved dtype (bf16 for Qwen, fp16 elsewhere; BiRefNet in
fp32 so its probe runs) with fixed seeds, so peak memory stays near one model's size (peak RSS
5.2 GB, for Qwen) and a build is repeatable. On a 2-core CPU all five take about 3.5 minutes
and 15.6 GB of disk. ``bench/full_size_models.py`` is the command line.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from img23d_protocol import CLEAN

from ..families.hunyuan3d import paint_replica as hunyuan_paint
from ..families.hunyuan3d import shape_replica as hunyuan_shape
from ..families.step1x.geometry import replica as step1x
from ..families.step1x.texture import replica as step1x_texture
from ..families.step1x.texture.generate import VIEW_SIZE
from ..models.registry import (CLEAN_PAINT, DEFAULT_PAINT, DEFAULT_SHAPE, DELIGHT, GROUNDING, MATTING, PAINT, SHAPE,
                               TINY_CLEAN_PAINT, ModelSet, ModelSpec, tiny_model_set)
from ..models.replica_common import parameters, spec_folder
from . import birefnet, qwen

# 2: the grounding replica is wired to give the fixed answer itself; 3: the shape replica is
# the turbo variant the default preset uses (guidance embedded, consistency scheduler); 4: the
# shape replica's FlashVDM VAE beside it (hunyuan3d/hunyuan3d-vae-v2-mini-turbo/); 5: the turbo
# paint model (hunyuan3d-paint/hunyuan3d-paint-v2-0-turbo/, component "paint-turbo"), the default
# 6: Step1X-3D's geometry (step1x-3d/Step1X-3D-Geometry-1300m/, component "step1x"); 7: the turbo paint
# VAE as the real file is written (SD 2.x pickle, float32, legacy attention names, 248 tensors);
# 8: the licence-clean paint model (step1x-texture/, component "step1x-texture")
FULL_FORMAT: int = 8
COMPONENTS = ("grounding", "matting", "shape", "delight", "paint", "paint-turbo", "step1x", "step1x-texture")
# The two paint components: which paint model each replicates.
PAINT_COMPONENTS = {"paint": "2.0", "paint-turbo": "2.0-turbo"}

# Published parameter counts, for the report and the size check (see each module's FULL).
PUBLISHED_PARAMS: dict[str, dict[str, float]] = {
    "grounding": {"total": 2.1e9},          # "2B"; 1.7B text + 0.4B vision by its config
    "matting": {"total": 2.2e8},            # BiRefNet, Swin-L: 215M-220M
    "shape": {"model": 6.0e8, "conditioner": 1.1e9},  # "0.6B" DiT; DINOv2-giant 1.1B
    "delight": {"unet": 8.66e8, "vae": 8.37e7},       # SD-2.x UNet 865.9M, SD VAE 83.7M
    "paint": {"unet": 1.73e9, "vae": 8.37e7},         # two SD-2.x UNets + extra attention
    "paint-turbo": {"unet": 1.73e9, "vae": 8.37e7},   # the same architecture, distilled weights
    # Step1X-3D's training config: FluxDenoiser 1.3B; DINOv2-large 304M; the whole autoencoder 191M,
    # of which the loader builds the decoder half.
    "step1x": {"transformer": 1.3e9, "visual_encoder": 3.04e8},
    # SDXL base 1.0: UNet 2.567B (3.39B with the adapter's multiview and reference processors, 0.82B
    # by upstream's shapes), CLIP ViT-L text 123M, OpenCLIP bigG text 695M, VAE 83.7M; the adapter's
    # condition encoder (a T2I-Adapter "full_adapter_xl" over six channels) 81M.
    "step1x-texture": {"unet": 3.39e9, "condition_encoder": 8.1e7, "text_encoder": 1.23e8, "text_encoder_2": 6.95e8,
                       "vae": 8.37e7},
}


def full_size_model_set(root: Path, paint: str = DEFAULT_PAINT) -> ModelSet:
    """The full-size replicas under ``root``: the tiny set's folders, the real models' figures.

    Size estimates and options are the real models' (from the registry), including the paint
    view size of 512 the multiview model was trained at; ``paint`` picks the paint model.
    """
    tiny = tiny_model_set(Path(root), paint=paint)
    return ModelSet(
        name="full-size",
        # The grounding replica answers by itself (qwen_answer): the real model's options.
        grounding=replace(tiny.grounding, repo_id="full-size/qwen3-vl", size_bytes=GROUNDING["2b"].size_bytes,
                          options=dict(GROUNDING["2b"].options)),
        matting=replace(tiny.matting, repo_id="full-size/birefnet", size_bytes=MATTING["birefnet"].size_bytes),
        # The default preset's model (2mini-turbo), in its real subfolder.
        shape=replace(tiny.shape, repo_id="full-size/hunyuan3d", subfolder=SHAPE[DEFAULT_SHAPE].subfolder,
                      size_bytes=SHAPE[DEFAULT_SHAPE].size_bytes, shape_kind=SHAPE[DEFAULT_SHAPE].shape_kind),
        delight=replace(tiny.spec("delight"), repo_id="full-size/hunyuan3d-paint", size_bytes=DELIGHT.size_bytes),
        # The real model's options but for the pinned digests: these files were made here.
        paint=replace(tiny.spec("paint"), repo_id="full-size/hunyuan3d-paint", size_bytes=PAINT[paint].size_bytes,
                      options={k: v for k, v in PAINT[paint].options.items() if k != "sha256"}),
    )


def component_spec(root: Path, name: str) -> ModelSpec:
    """The spec a component is loaded with (``paint`` and ``paint-turbo`` are both the paint role)."""
    if name in PAINT_COMPONENTS:
        return full_size_model_set(root, paint=PAINT_COMPONENTS[name]).spec("paint")
    if name == "step1x":  # the licence-clean family's shape model, in its real folder
        return replace(tiny_model_set(Path(root), family=CLEAN).shape, repo_id="full-size/step1x-3d",
                       size_bytes=SHAPE["step1x"].size_bytes, shape_kind=SHAPE["step1x"].shape_kind)
    if name == "step1x-texture":  # its paint model: three folders side by side, upstream's view size
        return replace(tiny_model_set(Path(root), family=CLEAN).spec("paint"), repo_id="full-size/step1x-3d-texture",
                       size_bytes=CLEAN_PAINT.size_bytes, options={"view_size": VIEW_SIZE})
    return full_size_model_set(root).spec(name)


# Where each component lives below the root (the clean paint model: the folder of its three folders).
TARGETS: dict[str, Path] = {name: spec_folder(component_spec(Path(), name)) for name in COMPONENTS}
TARGETS["step1x-texture"] = Path(TINY_CLEAN_PAINT)


def build_full_size_models(root: Path, only: list[str] | None = None) -> Path:
    """Build the replicas named in ``only`` (default: all) into ``root``; returns ``root``.

    A model already recorded in ``root/manifest.json`` whose folder exists is skipped. Each
    model is built in a hidden sibling folder and renamed into place when complete, and the
    manifest is rewritten after every model, so an interrupted build loses one model at most.
    """
    names = check_names(only)
    root = Path(root).expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(root)
    for name in names:
        target = root / TARGETS[name]
        if name in manifest["models"] and target.is_dir():
            entry = manifest["models"][name]
            print(f"{name}: already built ({format_params(entry['params'])} parameters, "
                  f"{entry['bytes_on_disk'] / 1e9:.2f} GB on disk)", flush=True)
            continue
        print(f"{name}: building ...", flush=True)
        entry = _build_one(name, target)
        manifest["models"][name] = entry
        _write_json_atomic(root / "manifest.json", manifest)
        print(f"{name}: {format_params(entry['params'])} parameters, "
              f"{entry['bytes_on_disk'] / 1e9:.2f} GB on disk, built in {entry['build_seconds']:.0f} s",
              flush=True)
    return root


def parameter_counts(name: str) -> dict[str, int]:
    """Parameters per part of one component, counted on the meta device (no weights made)."""
    import torch

    check_names([name])
    with torch.device("meta"):
        parts = _construct(name)
    return {part: parameters(module) for part, module in parts.items()}


def check_names(only: list[str] | None) -> list[str]:
    """The components ``only`` names, in build order (all when empty); unknown names are refused."""
    if not only:
        return list(COMPONENTS)
    unknown = [n for n in only if n not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}")
    return [n for n in COMPONENTS if n in only]


def format_params(params: dict[str, int]) -> str:
    total = sum(params.values())
    parts = ", ".join(f"{k} {v / 1e6:.1f}M" for k, v in params.items())
    return f"{total / 1e6:.1f}M ({parts})" if len(params) > 1 else f"{total / 1e6:.1f}M"


# --------------------------------------------------------------------------------------------
# One component
# --------------------------------------------------------------------------------------------


def _construct(name: str) -> dict[str, Any]:
    if name == "grounding":
        return qwen.construct(qwen.FULL)
    if name == "matting":
        return birefnet.construct(birefnet.FULL)
    if name == "shape":
        return {**hunyuan_shape.construct(hunyuan_shape.FULL_TURBO),
                "flashvdm_vae": hunyuan_shape.construct_flashvdm_vae(hunyuan_shape.FULL)}
    if name == "delight":
        return hunyuan_paint.construct_delight(hunyuan_paint.FULL)
    if name == "step1x":
        return step1x.construct(step1x.config("full"))
    if name == "step1x-texture":
        return step1x_texture.construct(step1x_texture.config("full"))
    return hunyuan_paint.construct_multiview(hunyuan_paint.FULL)  # paint and paint-turbo: one architecture


def _build(name: str, dest: Path) -> tuple[dict[str, Any], int]:
    """Build one component into ``dest``; its manifest entry and the seed it was made with."""
    if name == "grounding":
        return qwen.build(dest, qwen.FULL), qwen.FULL.seed
    if name == "matting":
        return birefnet.build(dest, birefnet.FULL), birefnet.FULL.seed
    if name == "shape":
        return hunyuan_shape.build(dest, hunyuan_shape.FULL_TURBO), hunyuan_shape.FULL_TURBO.seed
    if name == "delight":
        return hunyuan_paint.build_delight(dest, hunyuan_paint.FULL), hunyuan_paint.FULL.delight_seed
    if name == "step1x":
        full = step1x.config("full")
        return step1x.build(dest, full), full.seed
    if name == "step1x-texture":
        dims = step1x_texture.config("full")
        entry = step1x_texture.build(dest, dims)
        return {**entry, "params": entry.pop("parameters")}, dims.seed
    if name == "paint-turbo":
        return (hunyuan_paint.build_multiview(dest, hunyuan_paint.FULL, turbo=True),
                hunyuan_paint.FULL.multiview_seed + hunyuan_paint.TURBO_SEED_OFFSET)
    return hunyuan_paint.build_multiview(dest, hunyuan_paint.FULL), hunyuan_paint.FULL.multiview_seed


def _build_one(name: str, target: Path) -> dict[str, Any]:
    entry = _staged(target, lambda dest: _build(name, dest), name)
    if name == "shape":  # FlashVDM's VAE in its own folder beside the DiT's, as in the real repository
        vae = full_size_model_set(Path()).shape.flashvdm_vae or ""
        entry["flashvdm_vae"] = _staged(target.parent / vae, lambda dest: (
            hunyuan_shape.build_flashvdm_vae(dest, hunyuan_shape.FULL), hunyuan_shape.FULL.seed), "")
        entry["flashvdm_vae"]["path"] = str(Path(TARGETS[name]).parent / vae)
    return entry


def _staged(target: Path, build: Any, name: str) -> dict[str, Any]:
    """Build into a hidden sibling of ``target`` and rename it into place; the manifest entry."""
    staging = target.parent / f".{target.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        entry, seed = build(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        gc.collect()
    entry.update(seed=seed, build_seconds=round(time.perf_counter() - started, 1), bytes_on_disk=_disk_bytes(target))
    if name:
        entry.update(path=str(TARGETS[name]), published_params=PUBLISHED_PARAMS[name])
    return entry


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    fresh = {"format": FULL_FORMAT, "kind": "full-size random-weight replicas", "models": {}}
    if path.is_file():
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") == FULL_FORMAT:
            fresh["models"] = manifest.get("models", {})
    fresh.update({pkg: metadata.version(pkg) for pkg in ("torch", "transformers", "diffusers", "hy3dgen")})
    return fresh


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
