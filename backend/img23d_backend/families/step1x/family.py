"""Step1X-3D, the licence-clean family, behind the family interface (``families.family.Family``).

Nothing here imports hy3dgen or any module derived from Tencent's code
(tests/test_clean_family_imports.py walks this module too)."""

from __future__ import annotations

from typing import Any

from img23d_protocol import CLEAN

from ...models.preflight import PaintModel
from ...models.specs import ModelSpec
from ..family import Family, FamilyReplicas
from .geometry.loader import step1x_loader
from .geometry.stage import sample_shapes
from .specs import FACTS, PAINT_SAMPLING_BYTES
from .texture.loader import texture_loader
from .texture.paint_step import paint_clean
from .texture.uv_bake import UV_BAKE

# img23d's own loaders: the heavy libraries they import (transformers, diffusers) are every family's.
WARMUP_MODULES = ("img23d_backend.families.step1x.geometry.loader", "img23d_backend.families.step1x.texture.loader")


def _paint_model(spec: ModelSpec, device: Any) -> PaintModel:
    # The registry's size is its 16-bit files'; on a CPU it runs in float32, twice that.
    weights = spec.size_bytes * (2 if getattr(device, "type", str(device)) == "cpu" else 1)
    return PaintModel("the Step1X-3D texture model", weights, PAINT_SAMPLING_BYTES)


def _replicas() -> FamilyReplicas:
    # Imported when a replica build asks: the builders import torch and the family's networks.
    from .replicas import REPLICAS

    return REPLICAS


FAMILY = Family(name=CLEAN, loaders={"shape": step1x_loader, "paint": texture_loader}, sample_shapes=sample_shapes,
                paint_target=paint_clean, paint_model=_paint_model, uv_bake=UV_BAKE, facts=FACTS,
                warmup_modules=WARMUP_MODULES, replicas=_replicas)
