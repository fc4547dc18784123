"""The material models img23d has, by choice name: the one table the backend asks
(``material.MaterialRow``, ``material.MaterialModel``).

Each entry names its model's folder; its row (``<folder>.model.ROW``: facts, no code) is imported when
the registry, the listing or the time estimate reads it, its code (``<folder>.material.MATERIAL``) when a
job loads it or a replica build needs it. A second material model is one more folder and one more line here.
"""

from __future__ import annotations

from ..env.lazy_table import LazyTable
from ..models.specs import ModelSpec
from .material import MaterialModel, MaterialRow

# Each material model's choice name -> its folder (a package beside this module).
MATERIAL_PACKAGES: dict[str, str] = {
    "marigold": f"{__package__}.marigold",
}
DEFAULT_MATERIALS = "marigold"

MATERIAL_ROWS: LazyTable[MaterialRow] = LazyTable(
    {name: f"{package}.model" for name, package in MATERIAL_PACKAGES.items()}, "ROW", MaterialRow, "material model's row")
MATERIAL_CODE: LazyTable[MaterialModel] = LazyTable(
    {name: f"{package}.material" for name, package in MATERIAL_PACKAGES.items()}, "MATERIAL", MaterialModel, "material model")


def _name_of(spec: ModelSpec) -> str:
    name = spec.options.get("material")
    if name not in MATERIAL_PACKAGES:
        raise ValueError(f"{spec.display} is no material model img23d has ({', '.join(MATERIAL_PACKAGES)})")
    return str(name)


def material_of(spec: ModelSpec) -> MaterialModel:
    """The material model ``spec`` is (real, tiny or full-size replica: its options name it)."""
    return MATERIAL_CODE[_name_of(spec)]


def row_of(spec: ModelSpec) -> MaterialRow:
    """The row of the material model ``spec`` is."""
    return MATERIAL_ROWS[_name_of(spec)]
