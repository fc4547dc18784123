"""Marigold-IID-Appearance v1.1 behind the material interface (``materials.material.MaterialModel``):
its loader and estimate (``pipeline``), the dtype it runs in, and its replica."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models.replica_common import Size
from ...models.specs import ModelReplica, ModelSpec
from ..material import MaterialModel
from . import replica
from .model import MARIGOLD_PARAMETERS, NAME, materials_dtype
from .pipeline import MaterialsModel, estimate_materials, load_materials


def _loader(spec: ModelSpec) -> Any:
    return load_materials  # the same for every spec of it: the folder decides


def _resolution(model: MaterialsModel) -> int:
    return model.default_resolution


def _build(dest: Path, size: Size) -> tuple[dict[str, Any], int]:
    dims = replica.config(size)
    return replica.build(dest, dims), dims.seed


# Stable Diffusion 2's UNet (865.9M; 12 input and 8 output channels add 35K), VAE (83.7M) and OpenCLIP-H
# text encoder (340.4M): ``model``'s MARIGOLD_PARAMETERS, and why.
MATERIAL = MaterialModel(name=NAME, loader=_loader, estimate=estimate_materials, dtype=materials_dtype,
                         resolution=_resolution,
                         replica=ModelReplica(build=_build, construct=lambda: replica.construct(replica.config("full")),
                                         published_params=dict(MARIGOLD_PARAMETERS)))
