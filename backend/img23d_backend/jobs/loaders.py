"""Which loader builds each role's model: the one table the engine registers with its manager."""

from __future__ import annotations

from typing import Any, Callable

from ..models.manager import ModelManager
from img23d_protocol import HUNYUAN3D

from ..families.hunyuan3d.paint_models import delight_loader
from ..families.hunyuan3d.shape import shape_loader
from ..families.hunyuan3d.turbo import paint_loader
from ..families.step1x.geometry.loader import step1x_loader
from ..families.step1x.texture.loader import texture_loader
from ..models.registry import PAINT_ROLES, ROLES, SCENE_ROLES, ModelSet, ModelSpec, is_clean_paint, shape_kind
from ..stages.depth import depth_loader
from ..stages.grounding.ask import load_grounding
from ..stages.matting import matting_loader


def any_shape_loader(spec: ModelSpec):  # -> Loader
    """Hunyuan3D-2's pipeline (hy3dgen) or Step1X-3D's geometry model (img23d's own), by the
    spec's family: the licence-clean family's loader never imports hy3dgen."""
    return shape_loader(spec) if shape_kind(spec).family == HUNYUAN3D else step1x_loader(spec)


def any_paint_loader(spec: ModelSpec):  # -> Loader
    """Hunyuan3D-Paint's (turbo or 2.0, as the spec's kind says) or the licence-clean family's
    Step1X-3D texture model (img23d's own code; never imports hy3dgen)."""
    if is_clean_paint(spec):
        return texture_loader(spec)
    return paint_loader(spec)


# role -> (spec -> loader); the manager calls a loader with the model's folder and the device.
LOADERS: dict[str, Callable[[Any], Any]] = {
    "grounding": lambda spec: load_grounding,
    "matting": matting_loader,
    "shape": any_shape_loader,
    "delight": delight_loader,
    "paint": any_paint_loader,
    "depth": depth_loader,
}


def register_models(manager: ModelManager, models: ModelSet) -> None:
    """Register every role the set has; a set without texture (or depth) models can still make meshes."""
    for role in (*ROLES, *PAINT_ROLES, *SCENE_ROLES):
        spec = getattr(models, role)
        if spec is not None:
            manager.register(spec, LOADERS[role](spec))
