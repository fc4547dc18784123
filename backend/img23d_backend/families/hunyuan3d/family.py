"""Hunyuan3D-2 behind the family interface (``families.family.Family``)."""

from __future__ import annotations

from typing import Any

from img23d_protocol import HUNYUAN3D

from ..family import Family, FamilyReplicas
from . import shape
from .paint_step import paint_target
from .specs import FACTS
from .uv_bake import UV_BAKE
from .paint_models import delight_loader
from .turbo import paint_loader

# hy3dgen's modules the shape, delight and paint models import on first use.
WARMUP_MODULES = (
    "hy3dgen.shapegen",
    "hy3dgen.shapegen.models.autoencoders.volume_decoders",
    "hy3dgen.texgen.hunyuanpaint.unet.modules",
    "hy3dgen.texgen.hunyuanpaint.pipeline",
)


def _sample_shapes(*args: Any, **kwargs: Any) -> list[Any]:
    # Looked up at call time, so a test can stand another sampler in ``shape``'s place.
    return shape.generate_shapes(*args, **kwargs)


def _paint_model(spec: Any, device: Any) -> None:
    return None  # the preflight's paint figures were measured with these models loaded


def _replicas() -> FamilyReplicas:
    # Imported when a replica build asks: the builders import hy3dgen's and diffusers' classes.
    from .replicas import REPLICAS

    return REPLICAS


FAMILY = Family(name=HUNYUAN3D, loaders={"shape": shape.shape_loader, "delight": delight_loader, "paint": paint_loader},
                sample_shapes=_sample_shapes, paint_target=paint_target, paint_model=_paint_model,
                uv_bake=UV_BAKE,
                facts=FACTS, warmup_modules=WARMUP_MODULES, replicas=_replicas)
