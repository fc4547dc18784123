"""Which loader builds each role's model: the one table the engine registers with its manager.

Grounding, matting, depth, materials and the editor are every family's; a shape, delight or paint model's loader is its
family's (``families.table.family_of``: the spec's kind names the family)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from ..families.family import FAMILY_ROLES
from ..families.table import family_of
from ..models.manager import ModelManager
from ..catalog import PAINT_ROLES, PARTS_ROLE, ROLES, SCENE_ROLES, VIEWS_ROLE, ModelSet, ModelSpec, parts_spec_for
from ..depth.driver import depth_loader
from ..editors.parts import editor_loader
from ..grounding.driver import grounding_loader
from ..materials.driver import materials_loader
from ..parts.table import DEFAULT_PARTS, PARTS_TABLE, parts_loader
from ..matting.driver import matting_loader


def _family_loader(role: str) -> Callable[[ModelSpec], Any]:
    def loader(spec: ModelSpec) -> Any:  # -> Loader
        return family_of(spec).loaders[role](spec)

    loader.__doc__ = f"The {role} model's loader, from the family it belongs to."
    return loader


# role -> (spec -> loader); the manager calls a loader with the model's folder and the device.
LOADERS: dict[str, Callable[[Any], Any]] = {
    "grounding": grounding_loader,
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


def ensure_parts_model(manager: ModelManager, models: ModelSet, name: str = "") -> bool:
    """Have the parts model ``name`` (a parts request's ``model``; "": the set's own, else the default) be the one
    registered, registering it on a backend started without one or with another (``catalog.parts_spec_for``);
    False when the set has none to register."""
    own = PARTS_TABLE.name_of(models.parts) if models.parts is not None else DEFAULT_PARTS
    wanted = name or own
    if PARTS_ROLE in manager.roles and PARTS_TABLE.name_of(manager.spec(PARTS_ROLE)) == wanted:
        return True
    spec = parts_spec_for(models if wanted == own else replace(models, parts=None), wanted)
    if spec is None:
        return False
    manager.register(spec, LOADERS[PARTS_ROLE](spec))
    return True
