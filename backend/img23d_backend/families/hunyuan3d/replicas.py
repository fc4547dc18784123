"""Hunyuan3D-2's random-weight replicas as the replica sets take them (``families.family.FamilyReplicas``).

The tiny set's two folders (``hunyuan3d/``: the DiT and FlashVDM's VAE; ``hunyuan3d-paint/``: the
delight model and both paint models) and the full-size set's four components (``shape``,
``delight``, ``paint``, ``paint-turbo``), built by ``shape_replica`` and ``paint_replica``.
``family.py`` imports this module only when a build asks for it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from img23d_protocol import DEFAULT_PAINT_MODEL, HUNYUAN3D, PAINT_MODELS, model_family

from ...models.replica_common import folder_name, manifest_path, spec_folder
from ...models.specs import VIEWS_ROLE, ModelSpec
from ..family import BesideReplica, FamilyReplicas, FullSizeReplica
from . import mv_replica, paint_replica, shape_replica
from .mv_specs import tiny_mv
from .specs import DELIGHT, PAINT, PAINT_SUBFOLDERS, SHAPE, tiny_models


def build_tiny(root: Path) -> dict[str, dict[str, Any]]:
    """The family's tiny replicas under ``root``, where its tiny model set reads them; the
    manifest's entries by folder."""
    layout = tiny_models(root, DEFAULT_PAINT_MODEL, None)
    shape, delight, paint = layout.shape, layout.delight, layout.paint
    assert delight is not None  # the family's tiny set always has its delight model
    shape_dims, paint_dims = shape_replica.config("tiny"), paint_replica.config("tiny")
    # Both paint models' replicas: the set names one (the default, turbo), the other is a choice.
    paints = {name: Path(paint.local_path or "") / PAINT_SUBFOLDERS[name] for name in PAINT}
    views = tiny_mv(root)
    return {
        # Hunyuan3D-2mv's (names with views): the tiny sizes in hunyuan3d-dit-v2-mv's layout.
        folder_name(views): {**manifest_path(views), **mv_replica.build(spec_folder(views), mv_replica.config("tiny"))},
        folder_name(shape): {**manifest_path(shape), **shape_replica.build(spec_folder(shape), shape_dims),
                             "flashvdm_vae": {"subfolder": shape.flashvdm_vae, **shape_replica.build_flashvdm_vae(
                                 Path(shape.local_path or "") / (shape.flashvdm_vae or ""), shape_dims)}},
        # Both texture models share one folder, each in its own subfolder, like tencent/Hunyuan3D-2.
        folder_name(paint): {"path": folder_name(paint),
                             "subfolders": [delight.subfolder, *(f.name for f in paints.values())],
                             "delight": paint_replica.build_delight(spec_folder(delight), paint_dims),
                             **{f"multiview {name}": paint_replica.build_multiview(folder, paint_dims,
                                                                                   turbo=PAINT_MODELS[name].turbo)
                                for name, folder in paints.items()}},
    }


# --------------------------------------------------------------------------------------------
# Full size: the tiny set's folders, the real models' figures
# --------------------------------------------------------------------------------------------


def shape_spec(root: Path) -> ModelSpec:
    """The family's shape model (2mini-turbo, the default preset's), in its real subfolder."""
    real = SHAPE[model_family(HUNYUAN3D).shape]
    return replace(tiny_models(root, DEFAULT_PAINT_MODEL, None).shape, repo_id="full-size/hunyuan3d",
                   subfolder=real.subfolder, allow_patterns=real.allow_patterns, size_bytes=real.size_bytes,
                   shape_kind=real.shape_kind)


def delight_spec(root: Path) -> ModelSpec:
    return replace(tiny_models(root, DEFAULT_PAINT_MODEL, None).delight, repo_id="full-size/hunyuan3d-paint",
                   size_bytes=DELIGHT.size_bytes)


def paint_spec(root: Path, paint: str) -> ModelSpec:
    """The paint model ``paint`` (a key of the family's PAINT) with the real model's options, but for
    the pinned digests: these files were made here."""
    return replace(tiny_models(root, paint, None).paint,
                   repo_id="full-size/hunyuan3d-paint", size_bytes=PAINT[paint].size_bytes,
                   options={k: v for k, v in PAINT[paint].options.items() if k != "sha256"})


def views_spec(root: Path) -> ModelSpec:
    """Hunyuan3D-2mv turbo (the default preset's names with views), in its real subfolder."""
    real = SHAPE["2mv-turbo"]
    return replace(tiny_mv(root), role=VIEWS_ROLE, repo_id="full-size/hunyuan3d-mv", subfolder=real.subfolder,
                   size_bytes=real.size_bytes, shape_kind=real.shape_kind)


def _build_views(dest: Path) -> tuple[dict[str, Any], int]:
    return mv_replica.build(dest, mv_replica.FULL, "mv-turbo"), mv_replica.FULL.seed


def _construct_shape() -> dict[str, Any]:
    return {**shape_replica.construct(shape_replica.FULL_TURBO),
            "flashvdm_vae": shape_replica.construct_flashvdm_vae(shape_replica.FULL)}


def _build_shape(dest: Path) -> tuple[dict[str, Any], int]:
    # The turbo variant the default preset uses (guidance embedded, consistency scheduler).
    return shape_replica.build(dest, shape_replica.FULL_TURBO), shape_replica.FULL_TURBO.seed


def _build_flashvdm_vae(dest: Path) -> tuple[dict[str, Any], int]:
    return shape_replica.build_flashvdm_vae(dest, shape_replica.FULL), shape_replica.FULL.seed


def _build_delight(dest: Path) -> tuple[dict[str, Any], int]:
    return paint_replica.build_delight(dest, paint_replica.FULL), paint_replica.FULL.delight_seed


def _paint_component(name: str, paint: str) -> FullSizeReplica:
    """The component ``name`` replicating the paint model ``paint``: the turbo model is the 2.0
    architecture with other (distilled) weights, so both are one construction."""
    turbo = PAINT_MODELS[paint].turbo

    def build(dest: Path) -> tuple[dict[str, Any], int]:
        full = paint_replica.FULL
        seed = full.multiview_seed + (paint_replica.TURBO_SEED_OFFSET if turbo else 0)
        return paint_replica.build_multiview(dest, full, turbo=turbo), seed

    return FullSizeReplica(name=name, spec=lambda root: paint_spec(root, paint),
                           target=spec_folder(paint_spec(Path(), paint)),
                           construct=lambda: paint_replica.construct_multiview(paint_replica.FULL), build=build,
                           # Two SD-2.x UNets and extra attention; the turbo model's distilled weights, the same.
                           published_params={"unet": 1.73e9, "vae": 8.37e7})


def _full_size() -> tuple[FullSizeReplica, ...]:
    shape = shape_spec(Path())
    return (
        FullSizeReplica(name="shape", spec=shape_spec, target=spec_folder(shape), construct=_construct_shape,
                        build=_build_shape,
                        published_params={"model": 6.0e8, "conditioner": 1.1e9},  # "0.6B" DiT; DINOv2-giant 1.1B
                        # FlashVDM's VAE in its own folder beside the DiT's, as in the real repository.
                        beside=(BesideReplica(key="flashvdm_vae",
                                              folder=spec_folder(shape).parent / (shape.flashvdm_vae or ""),
                                              build=_build_flashvdm_vae),)),
        # Hunyuan3D-2mv turbo: the 2.0-sized DiT ("1.1B"), the same DINOv2-giant; no FlashVDM VAE of its own.
        FullSizeReplica(name="shape-views", spec=views_spec, target=spec_folder(views_spec(Path())),
                        construct=lambda: mv_replica.construct(mv_replica.FULL), build=_build_views,
                        published_params={"model": 1.1e9, "conditioner": 1.1e9}),
        FullSizeReplica(name="delight", spec=delight_spec, target=spec_folder(delight_spec(Path())),
                        construct=lambda: paint_replica.construct_delight(paint_replica.FULL), build=_build_delight,
                        published_params={"unet": 8.66e8, "vae": 8.37e7}),  # SD-2.x UNet 865.9M, SD VAE 83.7M
        _paint_component("paint", "2.0"),
        _paint_component("paint-turbo", "2.0-turbo"),
    )


REPLICAS = FamilyReplicas(tiny_folders=(folder_name(tiny_mv(Path())),
                                        folder_name(tiny_models(Path(), DEFAULT_PAINT_MODEL, None).shape),
                                        folder_name(tiny_models(Path(), DEFAULT_PAINT_MODEL, None).paint)),
                          build_tiny=build_tiny, full_size=_full_size())
