"""The full-size replica set: every model at its published size, random weights, for benchmarks.

Built in the same folders as the tiny set, so a ``ModelSet`` pointing at them
(``full_size_model_set``) loads through the exact production loaders, reads multi-GB files
from disk, and runs the real architectures. Random weights change no compute, so on a GPU
these give true load time, step time and memory; only the outputs are meaningless (the
grounding replica gives the tiny one's fixed answer, about 230 tokens long, like a real one). Each
model's sizes, and where they come from, are its module's ``FULL`` (or ``config("full")``). Each grounding,
matting and material model's and image editor's component comes from its room's table (``grounding.table``,
``matting.table``, ``materials.table``, ``editors.table``: its ``replica`` and its row's component name, for the
rows that have one); the others are each family's
(``Family.replicas``'s ``full_size``, in the table's order), taken without naming a family. Each rigger's
model's is its room's too (``rigging.table``: its ``RigModel``'s replica and component name).

    root/
      manifest.json                      one entry per built model (built ones are skipped)
      <grounding model>/                 the default grounding model's architecture, bf16 safetensors
      <matting model>/                   a stand-in of the default matting model's size (remote-code folder)
      <material model>/, <editor>/       each material model's and image editor's, at its published size (the
                                         editors' in bfloat16: ~16 GB for the default one, ~58 GB for the large one,
                                         component "qwen-editor", which the tests never build)
      <parts model>/                     each parts model's (the default one's DiT, VAE and DINOv2 in float32, 8.5 GB;
                                         its 4,096-latent DiT a hard link to the 2,048 one)
      hunyuan3d/hunyuan3d-dit-v2-mini-turbo/   Hunyuan3D-2mini-turbo: config.yaml + model.fp16.safetensors
      hunyuan3d/hunyuan3d-vae-v2-mini-turbo/   its FlashVDM VAE (built with the shape component)
      step1x-3d/Step1X-3D-Geometry-1300m/   Step1X-3D geometry (float32, as published; ~7 GB)
      hunyuan3d-paint/                   Hunyuan3D-2 delight (InstructPix2Pix, SD-2.1 sized), paint
                                         (UNet2p5DConditionModel around an SD-2.1 UNet) and paint-turbo
                                         (the same architecture in the turbo folder's layout)
      step1x-texture/                    the licence-clean paint model: SDXL base 1.0 (fp16 variant only),
                                         the fp16-fix VAE and Step1X-3D's adapter, in their three layouts
      <rigger's model>/                  each rigger's model's (the default one's, component "rigging": its checkpoint
                                         in bf16, 1.1 GB, in the hub's layout, the loader's safetensors copy beside)

Models are made directly in their saved dtype (bf16 for the grounding model, fp16 elsewhere; the
matting model in fp32 so its probe runs) with fixed seeds, so peak memory stays near one model's size (peak RSS
5.2 GB, for Qwen) and a build is repeatable. On a 2-core CPU all five take about 3.5 minutes
and 15.6 GB of disk (the editor, not timed here, adds 16 GB). ``bench/full_size_models.py`` is the command line.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import DEFAULT_FAMILY, paint_model_kind

from ..editors.table import DEFAULT_EDITOR, EDITOR_CODE, EDITOR_ROWS
from ..families.family import FullSizeReplica, ReplicaBuild
from ..families.table import FAMILIES, family_named
from ..catalog import DEFAULT_PAINT, VIEWS_ROLE, ModelSet, ModelSpec
from ..materials.table import DEFAULT_MATERIALS, MATERIAL_CODE, MATERIAL_ROWS
from ..parts.table import PARTS_CODE, PARTS_ROWS
from ..models.replica_common import parameters, spec_folder
from ..models.specs import ModelReplica
from ..rigging.table import RIGGERS
from ..grounding.table import DEFAULT_GROUNDING, GROUNDING_CODE, GROUNDING_ROWS
from ..matting.table import DEFAULT_MATTING, MATTING_CODE, MATTING_ROWS

# 2: the grounding replica is wired to give the fixed answer itself; 3: the shape replica is
# the turbo variant the default preset uses (guidance embedded, consistency scheduler); 4: the
# shape replica's FlashVDM VAE beside it (hunyuan3d/hunyuan3d-vae-v2-mini-turbo/); 5: the turbo
# paint model (hunyuan3d-paint/hunyuan3d-paint-v2-0-turbo/, component "paint-turbo"), the default
# 6: Step1X-3D's geometry (step1x-3d/Step1X-3D-Geometry-1300m/, component "step1x"); 7: the turbo paint
# VAE as the real file is written (SD 2.x pickle, float32, legacy attention names, 248 tensors);
# 8: the licence-clean paint model (step1x-texture/, component "step1x-texture"); 9: the material model
# (component "materials"); 10: the image editor (component "editor")
# 11: the large image editor (component "qwen-editor"); 12: the parts model (component "parts");
# 13: the rigging model (its rigger's folder in rigging/, component "rigging")
FULL_FORMAT: int = 13


def _room_component(name: str, spec: Callable[[Path], ModelSpec], replica: ModelReplica) -> FullSizeReplica:
    """A grounding, matting or material model's, an image editor's, a parts model's or a rigger's model's full-size
    component: its replica at the published size."""
    def build(dest: Path) -> tuple[dict[str, Any], int]:
        return replica.build(dest, "full")

    return FullSizeReplica(name=name, spec=spec, target=spec_folder(spec(Path())), construct=replica.construct,
                           build=build, published_params=dict(replica.published_params))


# The shared models' components (the published parameter counts: for the report and the size check).
SHARED: tuple[FullSizeReplica, ...] = (
    # The grounding and matting models' that have one (their published parameter counts are in their folders).
    *(_room_component(row.component, row.full_size_spec, GROUNDING_CODE[name].replica)
      for name, row in GROUNDING_ROWS.items() if row.component),
    *(_room_component(row.component, row.full_size_spec, MATTING_CODE[name].replica)
      for name, row in MATTING_ROWS.items() if row.component),
    # Each material model's and each image editor's, from their rooms' tables (their published parameter
    # counts, and where they come from, are in each one's own folder).
    *(_room_component(row.component, row.full_size_spec, MATERIAL_CODE[name].replica)
      for name, row in MATERIAL_ROWS.items()),
    *(_room_component(row.component, row.full_size_spec, EDITOR_CODE[name].replica)
      for name, row in EDITOR_ROWS.items()),
    *(_room_component(row.component, row.full_size_spec, PARTS_CODE[name].replica)
      for name, row in PARTS_ROWS.items()),
    *(_room_component(rigger.model.component, rigger.model.full_size_spec, rigger.model.replica)
      for rigger in RIGGERS.values() if rigger.model is not None),
)


def components_by_name(replicas: Iterable[FullSizeReplica]) -> dict[str, FullSizeReplica]:
    """``replicas`` by name, in their order; two of one name are refused (``--only`` picks by name)."""
    named: dict[str, FullSizeReplica] = {}
    for replica in replicas:
        if replica.name in named:
            raise ValueError(f"two full-size components are named {replica.name!r}: each needs a name of its own")
        named[replica.name] = replica
    return named


# Every component by name, in build order: the shared models', then each family's.
_REPLICAS = components_by_name([*SHARED, *(replica for family in FAMILIES.values()
                                             for replica in family.replicas().full_size)])
COMPONENTS: tuple[str, ...] = tuple(_REPLICAS)
PUBLISHED_PARAMS: dict[str, dict[str, float]] = {name: dict(r.published_params) for name, r in _REPLICAS.items()}
# Where each component lives below the root (the clean paint model: the folder of its three folders).
TARGETS: dict[str, Path] = {name: replica.target for name, replica in _REPLICAS.items()}


def full_size_model_set(root: Path, paint: str = DEFAULT_PAINT) -> ModelSet:
    """The full-size replicas under ``root`` as a model set: the shared models' and the default
    family's components, in the tiny set's folders with the real models' figures.

    Size estimates and options are the real models' (from the registry), including the paint
    view size of 512 the multiview model was trained at; ``paint`` picks the paint model (the
    component whose spec is of that paint kind).
    """
    root = Path(root)
    kind = paint_model_kind(paint)  # an unknown name: one sentence naming the choices
    roles: dict[str, ModelSpec] = {}
    for replica in family_named(DEFAULT_FAMILY).replicas().full_size:
        spec = replica.spec(root)
        # A family may bring components of more than one paint model: ``paint`` picks one.
        if spec.paint_kind is None or spec.paint_kind == kind:
            roles[spec.role] = spec
    return ModelSet(name="full-size", grounding=GROUNDING_ROWS[DEFAULT_GROUNDING].full_size_spec(root),
                    matting=MATTING_ROWS[DEFAULT_MATTING].full_size_spec(root),
                    shape=roles["shape"], delight=roles.get("delight"), paint=roles.get("paint"),
                    materials=MATERIAL_ROWS[DEFAULT_MATERIALS].full_size_spec(root),
                    editor=EDITOR_ROWS[DEFAULT_EDITOR].full_size_spec(root), shape_views=roles.get(VIEWS_ROLE))


def component_spec(root: Path, name: str) -> ModelSpec:
    """The spec a component is loaded with (``paint`` and ``paint-turbo`` are both the paint role)."""
    check_names([name])
    return _REPLICAS[name].spec(Path(root))


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
        entry = _build_one(_REPLICAS[name], root)
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
        parts = _REPLICAS[name].construct()
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


def _build_one(replica: FullSizeReplica, root: Path) -> dict[str, Any]:
    entry = _staged(root / replica.target, replica.build, replica.name)
    for beside in replica.beside:  # a folder of its own beside the component's (Hunyuan3D-2mini's FlashVDM VAE)
        entry[beside.key] = _staged(root / beside.folder, beside.build, "")
        entry[beside.key]["path"] = str(beside.folder)
    return entry


def _staged(target: Path, build: ReplicaBuild, name: str) -> dict[str, Any]:
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
