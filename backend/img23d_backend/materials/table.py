"""The material models img23d has, by choice name: the one table the backend asks
(``material.MaterialRow``, ``material.MaterialModel``).

Each entry names its model's folder; its row (``<folder>.model.ROW``: facts, no code) is imported when
the registry, the listing or the time estimate reads it, its code (``<folder>.material.MATERIAL``) when a
job loads it or a replica build needs it. A second material model is one more folder and one more line here.
"""

from __future__ import annotations

from ..env.lazy_table import LazyTable
from ..env.room_table import RoomTable
from .material import MaterialModel, MaterialRow

# Each material model's choice name -> its folder (a package beside this module).
MATERIAL_PACKAGES: dict[str, str] = {
    "marigold": f"{__package__}.marigold",
}
DEFAULT_MATERIALS = "marigold"

MATERIAL_TABLE: RoomTable[MaterialRow, MaterialModel] = RoomTable(MATERIAL_PACKAGES, MaterialRow, "material",
                                                                   "MATERIAL", MaterialModel, "material",
                                                                   "material model")
MATERIAL_ROWS: LazyTable[MaterialRow] = MATERIAL_TABLE.rows
MATERIAL_CODE: LazyTable[MaterialModel] = MATERIAL_TABLE.code
# The material model a spec is (real, tiny or full-size replica: its options name it): its code, its row.
material_of = MATERIAL_TABLE.code_of
row_of = MATERIAL_TABLE.row_of
