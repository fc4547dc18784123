"""Which loader builds each role's model: the one table the engine registers with its manager.

Grounding, matting, depth, materials and the editor are every family's; a shape, delight or paint model's loader is its
family's (``families.table.family_of``: the spec's kind names the family)."""

from __future__ import annotations

from typing import Any, Callable

from ..families.family import FAMILY_ROLES
from ..families.table import family_of
from ..models.manager import ModelManager
from ..catalog import PAINT_ROLES, PARTS_ROLE, ROLES, SCENE_ROLES, VIEWS_ROLE, ModelSet, ModelSpec, parts_spec_for
from ..stages.depth import depth_loader
from ..editors.parts import editor_loader
from ..stages.grounding.ask import load_grounding
from ..materials.driver import materials_loader
from ..parts.table import parts_loader
from ..stages.matting import matting_loader


def _family_loader(role: str) -> Callable[[ModelSpec], Any]:
    def loader(spec: ModelSpec) -> Any:  # -> Loader
        return family_of(spec).loaders[role](spec)

    loader.__doc__ = f"The {role} model's loader, from the family it belongs to."
    return loader


# role -> (spec -> loader); the manager calls a loader with the model's folder and the device.
LOADERS: dict[str, Callable[[Any], Any]] = {
    "grounding": lambda spec: load_grounding,
    "matting": matting_loader,
    **{role: _family_loader(role) for role in FAMILY_ROLES},
    # The shape model of names with views (Hunyuan3D-2mv) loads as its family's shape models do.
    VIEWS_ROLE: _family_loader("shape"),
    "depth": depth_loader,
    "materials": materials_loader,
    "editor": editor_loader,
    PARTS_ROLE: parts_loader,
}


def register_models(manager: ModelManager, models: ModelSet) -> None:
    """Register every role the set has; a set without texture (or depth) models can still make meshes."""
    for role in (*ROLES, VIEWS_ROLE, *PAINT_ROLES, *SCENE_ROLES, PARTS_ROLE):
        spec = getattr(models, role)
        if spec is not None:
            manager.register(spec, LOADERS[role](spec))


def ensure_parts_model(manager: ModelManager, models: ModelSet) -> bool:
    """Register the set's parts model when none is (a backend started without one, on its first job that
    draws parts: ``catalog.parts_spec_for``); False when the set has none to register."""
    if PARTS_ROLE in manager.roles:
        return True
    spec = parts_spec_for(models)
    if spec is None:
        return False
    manager.register(spec, LOADERS[PARTS_ROLE](spec))
    return True
