"""Step1X-3D's random-weight replicas as the replica sets take them (``families.family.FamilyReplicas``).

The tiny set's three folders (``step1x-3d/``: the geometry model and, beside it, the Label model;
``step1x-texture/``: the paint model's three repositories) and the full-size set's two components
(``step1x``, ``step1x-texture``), built by ``geometry.replica`` and ``texture.replica``.
``family.py`` imports this module only when a build asks for it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from img23d_protocol import CLEAN, DEFAULT_PAINT_MODEL, TINY_STEP1X_LABEL_MODEL, model_family

from ...models.replica_common import folder_name, manifest_path, spec_folder
from ...models.specs import ModelSpec
from ..family import FamilyReplicas, FullSizeReplica
from .geometry import replica as geometry_replica
from .specs import SHAPE, tiny_models
from .texture import replica as texture_replica
from .texture.generate import VIEW_SIZE
from .texture_folders import CLEAN_PAINT, TINY_CLEAN_PAINT


def _label_shape(root: Path) -> ModelSpec:
    return tiny_models(root, DEFAULT_PAINT_MODEL, TINY_STEP1X_LABEL_MODEL).shape


def _label_key(root: Path) -> str:
    # The Label model shares the geometry's repository folder: its entry needs a key of its own.
    return f"{folder_name(_label_shape(root))} label"


def build_tiny(root: Path) -> dict[str, dict[str, Any]]:
    """The family's tiny replicas under ``root``, where its tiny model sets read them; the
    manifest's entries by folder."""
    layout = tiny_models(root, DEFAULT_PAINT_MODEL, None)
    shape, paint, label = layout.shape, layout.paint, _label_shape(root)
    return {
        # Step1X-3D's geometry folder.
        folder_name(shape): {**manifest_path(shape),
                             **geometry_replica.build(spec_folder(shape), geometry_replica.config("tiny"))},
        # Its Label model, beside it in the same repository folder (chosen by --shape step1x-label).
        _label_key(root): {**manifest_path(label),
                           **geometry_replica.build_label(spec_folder(label), geometry_replica.label_config())},
        # Its paint model: SDXL base, the fp16-fix VAE and Step1X-3D's adapter, side by side.
        TINY_CLEAN_PAINT: {"path": TINY_CLEAN_PAINT, **texture_replica.build(
            Path(paint.local_path or "").parent, texture_replica.config("tiny"))},
    }


# --------------------------------------------------------------------------------------------
# Full size: the tiny set's folders, the real models' figures
# --------------------------------------------------------------------------------------------


def shape_spec(root: Path) -> ModelSpec:
    """The family's shape model, in its real folder."""
    real = SHAPE[model_family(CLEAN).shape]
    return replace(tiny_models(root, DEFAULT_PAINT_MODEL, None).shape, repo_id="full-size/step1x-3d",
                   size_bytes=real.size_bytes, shape_kind=real.shape_kind)


def paint_spec(root: Path) -> ModelSpec:
    """Its paint model: three folders side by side, upstream's view size."""
    return replace(tiny_models(root, DEFAULT_PAINT_MODEL, None).paint, repo_id="full-size/step1x-3d-texture",
                   size_bytes=CLEAN_PAINT.size_bytes, options={"view_size": VIEW_SIZE})


def _build_geometry(dest: Path) -> tuple[dict[str, Any], int]:
    full = geometry_replica.config("full")
    return geometry_replica.build(dest, full), full.seed


def _build_texture(dest: Path) -> tuple[dict[str, Any], int]:
    dims = texture_replica.config("full")
    entry = texture_replica.build(dest, dims)
    return {**entry, "params": entry.pop("parameters")}, dims.seed


REPLICAS = FamilyReplicas(
    tiny_folders=(folder_name(tiny_models(Path(), DEFAULT_PAINT_MODEL, None).shape), _label_key(Path()),
                  TINY_CLEAN_PAINT),
    build_tiny=build_tiny,
    full_size=(
        FullSizeReplica(name="step1x", spec=shape_spec, target=spec_folder(shape_spec(Path())),
                        construct=lambda: geometry_replica.construct(geometry_replica.config("full")),
                        build=_build_geometry,
                        # Step1X-3D's training config: FluxDenoiser 1.3B; DINOv2-large 304M; the whole
                        # autoencoder 191M, of which the loader builds the decoder half.
                        published_params={"transformer": 1.3e9, "visual_encoder": 3.04e8}),
        # The target holds the three repositories' folders.
        FullSizeReplica(name="step1x-texture", spec=paint_spec, target=Path(TINY_CLEAN_PAINT),
                        construct=lambda: texture_replica.construct(texture_replica.config("full")),
                        build=_build_texture,
                        # SDXL base 1.0: UNet 2.567B (3.39B with the adapter's multiview and reference
                        # processors, 0.82B by upstream's shapes), CLIP ViT-L text 123M, OpenCLIP bigG text
                        # 695M, VAE 83.7M; the adapter's condition encoder (a T2I-Adapter
                        # "full_adapter_xl" over six channels) 81M.
                        published_params={"unet": 3.39e9, "condition_encoder": 8.1e7, "text_encoder": 1.23e8,
                                          "text_encoder_2": 6.95e8, "vae": 8.37e7}),
    ))
