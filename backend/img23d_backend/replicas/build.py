"""The tiny replica set: build it once, atomically, and find it again.

The tiny, offline, random-weight replicas of the production models, for tests. Each model's
builder lives in its own module: the shared models' here (``qwen``, ``birefnet``, ``depth``), each
family's in its family (``families/hunyuan3d/shape_replica`` and ``paint_replica``,
``families/step1x/geometry/replica`` and ``texture/replica``); this module puts their folders
together in the same layout as the real weights, so the production loaders open them with exactly
the calls they use for the real models, without network access and in seconds on a CPU:

    root/
      manifest.json
      qwen3-vl/                          save_pretrained of model + processor
      birefnet/                          config.json (auto_map), model.safetensors, remote code
      hunyuan3d/hunyuan3d-dit-v2-mini/   config.yaml + model.fp16.safetensors
      hunyuan3d/hunyuan3d-vae-v2-mini-turbo/  FlashVDM's VAE: config.yaml + model.fp16.safetensors
      hunyuan3d-paint/                   hunyuan3d-delight-v2-0/ + hunyuan3d-paint-v2-0/ +
                                         hunyuan3d-paint-v2-0-turbo/ (diffusers folders)
      depth-anything/                    Depth Anything V2 (config, weights, DPT processor)
      step1x-3d/Step1X-3D-Geometry-1300m/  Step1X-3D geometry (the licence-clean family's shape model)
      step1x-3d/Step1X-3D-Geometry-Label-1300m/  its Label model (symmetry and edge sharpness labels)
      step1x-texture/                    its paint model: stable-diffusion-xl-base-1.0/, sdxl-vae-fp16-fix/,
                                         Step1X-3D/Step1X-3D-Texture/ (the three repositories' layouts)

The weights are random (fixed seeds, so a build is byte-for-byte repeatable) except where a
test needs behaviour: the grounding replica always gives the same answer (see ``qwen``), and
the shape replica's occupancy is a closed blob, near-binary like a trained one's (see
``families/hunyuan3d/shape_replica``).

``python -m img23d_backend.replicas [--out DIR] [--force]`` builds a folder and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from img23d_protocol import CLEAN, PAINT_MODELS, TINY_STEP1X_LABEL_MODEL

from ..families.hunyuan3d import paint_replica as hunyuan_paint
from ..families.hunyuan3d import shape_replica as hunyuan_shape
from ..families.step1x.geometry import replica as step1x
from ..families.step1x.texture import replica as step1x_texture
from ..models.registry import (PAINT, PAINT_SUBFOLDERS, TINY_CLEAN_PAINT, TINY_FORMAT, ModelSet, ModelSpec, default_tiny_root,
                               tiny_model_set)
from ..models.replica_common import spec_folder, write_json
from . import birefnet, depth, qwen

# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def build_tiny_models(root: Path) -> Path:
    """Build all replicas into ``root`` (replacing it), atomically; returns ``root``.

    The build goes to a temporary sibling folder that is renamed into place only when
    complete, so readers never see a half-built folder.
    """
    root = Path(root).expanduser().absolute()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would otherwise become the cache folder's mode
    try:
        # The registry's tiny set says where each model lives; each is built where it is read.
        write_json(staging / "manifest.json", _manifest(_build_all(
            tiny_model_set(staging), tiny_model_set(staging, family=CLEAN).shape,
            tiny_model_set(staging, family=CLEAN, shape=TINY_STEP1X_LABEL_MODEL).shape,
            tiny_model_set(staging, family=CLEAN).spec("paint"))))
        _swap_into_place(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def replica_folders() -> tuple[str, ...]:
    """The folder of each replica in a tiny set (the manifest's ``models`` keys)."""
    layout = tiny_model_set(Path("."))
    label = tiny_model_set(Path("."), family=CLEAN, shape=TINY_STEP1X_LABEL_MODEL).shape
    return tuple(dict.fromkeys([*(_name(layout.spec(role)) for role in ("grounding", "matting", "shape", "paint", "depth")),
                                _name(tiny_model_set(Path("."), family=CLEAN).shape),
                                f"{_name(label)} label", TINY_CLEAN_PAINT]))


def ensure_tiny_models(root: Path | None = None) -> Path:
    """Return the replica folder, building it first unless its manifest says it holds this
    format with every replica (the cache is shared: another checkout's code may have made a
    folder of the same name)."""
    root = default_tiny_root() if root is None else Path(root).expanduser()
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        complete = (manifest.get("format") == TINY_FORMAT
                    and set(replica_folders()) <= set(manifest.get("models", {})))
    except (OSError, ValueError, AttributeError):
        complete = False
    if not complete:
        build_tiny_models(root)
    return root


# --------------------------------------------------------------------------------------------
# Folder handling
# --------------------------------------------------------------------------------------------


def _swap_into_place(staging: Path, root: Path) -> None:
    """Rename the finished build onto ``root``, moving any previous folder out of the way."""
    old: Path | None = None
    if root.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
        os.replace(root, old / root.name)
    try:
        os.replace(staging, root)
    except OSError:
        if (root / "manifest.json").is_file():
            return  # a concurrent builder won the race; same seeds, so keep its folder
        if old is not None and not root.exists():
            os.replace(old / root.name, root)  # put the previous build back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _build_all(layout: ModelSet, clean_shape: ModelSpec, label_shape: ModelSpec,
               clean_paint: ModelSpec) -> dict[str, dict[str, Any]]:
    """Every tiny replica, into the folders ``layout`` (and the licence-clean family's shape and
    paint specs) name; the manifest's entries by folder."""
    grounding, matting, shape = layout.grounding, layout.matting, layout.shape
    delight, paint, depth_spec = layout.spec("delight"), layout.spec("paint"), layout.spec("depth")
    paint_dims = hunyuan_paint.config("tiny")
    # Both paint models' replicas: the set names one (the default, turbo), the other is a choice.
    paints = {name: Path(paint.local_path or "") / PAINT_SUBFOLDERS[name] for name in PAINT}
    return {
        _name(grounding): {**_where(grounding), **qwen.build(spec_folder(grounding), qwen.config("tiny"))},
        _name(matting): {**_where(matting), **birefnet.build(spec_folder(matting), birefnet.config("tiny"))},
        _name(shape): {**_where(shape),
                       **hunyuan_shape.build(spec_folder(shape), hunyuan_shape.config("tiny")),
                       "flashvdm_vae": {"subfolder": shape.flashvdm_vae, **hunyuan_shape.build_flashvdm_vae(
                           Path(shape.local_path or "") / (shape.flashvdm_vae or ""), hunyuan_shape.config("tiny"))}},
        # Both texture models share one folder, each in its own subfolder, like tencent/Hunyuan3D-2.
        _name(paint): {"path": _name(paint), "subfolders": [delight.subfolder, *(f.name for f in paints.values())],
                       "delight": hunyuan_paint.build_delight(spec_folder(delight), paint_dims),
                       **{f"multiview {name}": hunyuan_paint.build_multiview(folder, paint_dims,
                                                                              turbo=PAINT_MODELS[name].turbo)
                          for name, folder in paints.items()}},
        _name(depth_spec): depth.build(spec_folder(depth_spec)),
        # The licence-clean family's shape model: Step1X-3D's geometry folder.
        _name(clean_shape): {**_where(clean_shape),
                             **step1x.build(spec_folder(clean_shape), step1x.config("tiny"))},
        # Its Label model, beside it in the same repository folder (chosen by --shape step1x-label).
        f"{_name(label_shape)} label": {**_where(label_shape),
                                        **step1x.build_label(spec_folder(label_shape), step1x.label_config())},
        # Its paint model: SDXL base, the fp16-fix VAE and Step1X-3D's adapter, side by side.
        TINY_CLEAN_PAINT: {"path": TINY_CLEAN_PAINT, **step1x_texture.build(
            Path(clean_paint.local_path or "").parent, step1x_texture.config("tiny"))},
    }


def _name(spec: ModelSpec) -> str:
    return Path(spec.local_path or "").name


def _where(spec: ModelSpec) -> dict[str, str]:
    return {"path": _name(spec), **({"subfolder": spec.subfolder} if spec.subfolder else {})}


def _manifest(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": TINY_FORMAT,
        "transformers": metadata.version("transformers"),
        "hy3dgen": metadata.version("hy3dgen"),
        "models": models,
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m img23d_backend.replicas",
                                     description="Build the tiny offline model replicas.")
    parser.add_argument("--out", type=Path, default=None,
                        help="target folder (default: $IMG23D_TINY_MODELS or the user cache)")
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    args = parser.parse_args(argv)
    root = args.out if args.out is not None else default_tiny_root()
    root = build_tiny_models(root) if args.force else ensure_tiny_models(root)
    print(Path(root).absolute())
    return 0
