"""The model families img23d has, by name: the one table the backend asks (``family.Family``).

Its names are the protocol's (``img23d_protocol.MODEL_FAMILIES``: what the add-on and the command
line offer); tests/backend/test_families.py holds the two tables to each other.

Each entry names the module that defines its family's ``FAMILY``, and that module is imported only
when something asks for that family (``family_named``, ``family_of``, ``FAMILIES[name]``): a job
imports the code of the families its models belong to and no other. So a licence-clean job never
imports Hunyuan3D-2's modules, which are derived from Tencent-licensed code
(tests/backend/test_clean_job_modules.py reads a real clean job's ``sys.modules``). The registry's
specs, licences and the model list are data (``models.registry``, ``img23d_protocol``) and need no
family's code.
"""

from __future__ import annotations

from collections.abc import Mapping

from img23d_protocol import CLEAN, HUNYUAN3D

from ..env.lazy_table import LazyTable
from ..models.specs import ModelSpec
from .family import Family

# Each family's name -> the module whose ``FAMILY`` is that family's ``Family``.
FAMILY_MODULES: dict[str, str] = {
    HUNYUAN3D: f"{__package__}.hunyuan3d.family",
    CLEAN: f"{__package__}.step1x.family",
}


class FamilyTable(LazyTable[Family]):
    """The families by name, each imported the first time it is asked for.

    Iterating over the names imports nothing; reading a value (``table[name]``, ``values()``,
    ``items()``) imports that family's module."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        super().__init__(modules, "FAMILY", Family, "family")


FAMILIES = FamilyTable(FAMILY_MODULES)


def family_named(name: str) -> Family:
    """The family ``name`` (a key of img23d_protocol.MODEL_FAMILIES), its module imported on first use."""
    if name not in FAMILIES:
        raise ValueError(f"no model family {name!r}; img23d has {', '.join(FAMILIES)}")
    return FAMILIES[name]


def family_of(spec: ModelSpec) -> Family:
    """The family whose code loads and runs ``spec`` (its shape or paint kind's, or the one it names)."""
    if spec.family is None:
        raise ValueError(f"{spec.display} ({spec.role}) belongs to no model family: every family shares it")
    return family_named(spec.family)
