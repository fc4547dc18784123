"""Which loader builds each role's model: the one table the engine registers with its manager."""

from __future__ import annotations

from typing import Any, Callable

from ..models.manager import ModelManager
from img23d_protocol import HUNYUAN3D

from ..models.registry import PAINT_ROLES, ROLES, SCENE_ROLES, ModelSet, ModelSpec, shape_kind
from ..stages.depth import depth_loader
from ..stages.grounding import load_grounding
from ..stages.matting import matting_loader
from ..stages.paint_models import delight_loader
from ..stages.paint_turbo import paint_loader
from ..stages.shape import shape_loader
from ..step1x.loader import step1x_loader


def any_shape_loader(spec: ModelSpec):  # -> Loader
    """Hunyuan3D-2's pipeline (hy3dgen) or Step1X-3D's geometry model (img23d's own), by the
    spec's family: the licence-clean family's loader never imports hy3dgen."""
    return shape_loader(spec) if shape_kind(spec).family == HUNYUAN3D else step1x_loader(spec)


# role -> (spec -> loader); the manager calls a loader with the model's folder and the device.
LOADERS: dict[str, Callable[[Any], Any]] = {
    "grounding": lambda spec: load_grounding,
    "matting": matting_loader,
    "shape": any_shape_loader,
    "delight": delight_loader,
    "paint": paint_loader,  # the turbo model's or the 2.0 model's, as the spec's kind says
    "depth": depth_loader,
}


def register_models(manager: ModelManager, models: ModelSet) -> None:
    """Register every role the set has; a set without texture (or depth) models can still make meshes."""
    for role in (*ROLES, *PAINT_ROLES, *SCENE_ROLES):
        spec = getattr(models, role)
        if spec is not None:
            manager.register(spec, LOADERS[role](spec))
