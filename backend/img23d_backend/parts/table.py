"""The parts models img23d has, by choice name: the one table the backend asks (``generator.PartsRow``,
``generator.PartGenerator``).

Each entry names its model's folder; its row (``<folder>.model.ROW``: facts, no code) is imported when the
catalog, the listing or an estimate reads it, its code (``<folder>.generator.GENERATOR``) when a job loads
it or a replica build needs it. A second parts model (PartCrafter, say) is one more folder and one more
line here.
"""

from __future__ import annotations

from typing import Any

from img23d_protocol import PARTS_MODELS, PartsModel
from img23d_protocol.tables import look_up

from ..env.lazy_table import LazyTable
from ..env.room_table import RoomTable
from ..models.specs import ModelSpec
from .generator import PartGenerator, PartsRow

# Each parts model's choice name -> its folder (a package beside this module).
PARTS_PACKAGES: dict[str, str] = {
    "autopartgen": f"{__package__}.autopartgen",
}
DEFAULT_PARTS = "autopartgen"

PARTS_TABLE: RoomTable[PartsRow, PartGenerator] = RoomTable(PARTS_PACKAGES, PartsRow, "generator", "GENERATOR",
                                                            PartGenerator, "parts", "parts model")
PARTS_ROWS: LazyTable[PartsRow] = PARTS_TABLE.rows
PARTS_CODE: LazyTable[PartGenerator] = PARTS_TABLE.code
# The parts model a spec is (real, tiny or full-size replica: its options name it): its row, its code.
row_of = PARTS_TABLE.row_of
generator_of = PARTS_TABLE.code_of


def offered(spec: ModelSpec) -> PartsModel:
    """The protocol's row of the parts model ``spec`` is: the grids it decodes at, the one it starts from and the
    most parts one request makes, as the add-on offers them; every request it runs is checked against these
    (``part.check_limits``)."""
    return look_up(PARTS_MODELS, row_of(spec).name, "parts model")


def parts_loader(spec: ModelSpec) -> Any:  # -> models.handles.PartLoaders
    """The model manager's loaders for the parts role: the spec's model's, each network a part of its own."""
    return generator_of(spec).loader(spec)
