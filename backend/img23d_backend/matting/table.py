"""The matting models img23d has, by ``--matting`` choice name: the one table the backend asks
(``matter.MattingRow``, ``matter.Matter``).

Each entry names its model's folder; its row (``<folder>.model.ROWS[name]``: facts, no code) is imported when
the catalog, the listing or the memory check reads it, its code (``<folder>.matter.MATTERS[name]``) when a job
loads it or a replica build needs it. A second matting model is one more folder and one more line here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..env.room_table import ChoiceTable
from ..models.specs import ModelSpec
from .matter import Matter, MattingRow

# Each matting model's choice name -> its folder (a package beside this module).
MATTING_PACKAGES: dict[str, str] = {
    "birefnet": f"{__package__}.birefnet",
    "birefnet-hr": f"{__package__}.birefnet",
}
DEFAULT_MATTING = "birefnet"

MATTING_TABLE: ChoiceTable[MattingRow, Matter] = ChoiceTable(MATTING_PACKAGES, MattingRow, "matter", "MATTERS",
                                                             Matter, "matting", "matting model")
MATTING_ROWS: Mapping[str, MattingRow] = MATTING_TABLE.rows
MATTING_CODE: Mapping[str, Matter] = MATTING_TABLE.code
# The matting model a spec is (real, tiny or full-size replica: its options name it): its row, its code.
row_of = MATTING_TABLE.row_of
matter_of = MATTING_TABLE.code_of


def tiny_matting(root: Path, matting: str = DEFAULT_MATTING) -> ModelSpec:
    """The replica of ``matting`` (a choice of the table) under ``root``, read at the real model's input side."""
    return MATTING_ROWS[matting].tiny_spec(root)


def input_side(spec: ModelSpec) -> int:
    """The side ``spec``'s model reads a crop at (its options say it)."""
    return int(spec.options["input_size"])


def input_sides() -> dict[str, Any]:
    """Each matting model's input side, by choice name."""
    return {name: row.input_side for name, row in MATTING_ROWS.items()}
