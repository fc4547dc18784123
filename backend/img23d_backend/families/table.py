"""The model families img23d has, by name: the one table the backend asks (``family.Family``).

Its names are the protocol's (``img23d_protocol.MODEL_FAMILIES``: what the add-on and the command
line offer); tests/backend/test_families.py holds the two tables to each other.
"""

from __future__ import annotations

from ..models.specs import ModelSpec
from .family import Family
from .hunyuan3d.family import FAMILY as HUNYUAN3D_FAMILY
from .step1x.family import FAMILY as STEP1X_FAMILY

FAMILIES: dict[str, Family] = {family.name: family for family in (HUNYUAN3D_FAMILY, STEP1X_FAMILY)}


def family_named(name: str) -> Family:
    """The family ``name`` (a key of img23d_protocol.MODEL_FAMILIES)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"no model family {name!r}; img23d has {', '.join(FAMILIES)}") from None


def family_of(spec: ModelSpec) -> Family:
    """The family whose code loads and runs ``spec`` (its shape or paint kind's, or the one it names)."""
    if spec.family is None:
        raise ValueError(f"{spec.display} ({spec.role}) belongs to no model family: every family shares it")
    return family_named(spec.family)
