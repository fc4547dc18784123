"""The grounding models img23d has, by ``--grounding`` choice name: the one table the backend asks
(``grounder.GroundingRow``, ``grounder.Grounder``).

Each entry names its model's folder; its row (``<folder>.model.ROWS[name]``: facts, no code) is imported when
the catalog or the listing reads it, its code (``<folder>.grounder.GROUNDERS[name]``) when a job loads it or a
replica build needs it. A second grounding model is one more folder and one more line here.
"""

from __future__ import annotations

from typing import Mapping

from ..env.room_table import ChoiceTable
from .grounder import Grounder, GroundingRow

# Each grounding model's choice name -> its folder (a package beside this module).
GROUNDING_PACKAGES: dict[str, str] = {
    "2b": f"{__package__}.qwen3_vl",
    "4b": f"{__package__}.qwen3_vl",
    "8b": f"{__package__}.qwen3_vl",
}
DEFAULT_GROUNDING = "2b"

GROUNDING_TABLE: ChoiceTable[GroundingRow, Grounder] = ChoiceTable(GROUNDING_PACKAGES, GroundingRow, "grounder",
                                                                   "GROUNDERS", Grounder, "grounding",
                                                                   "grounding model")
GROUNDING_ROWS: Mapping[str, GroundingRow] = GROUNDING_TABLE.rows
GROUNDING_CODE: Mapping[str, Grounder] = GROUNDING_TABLE.code
row_of = GROUNDING_TABLE.row_of
grounder_of = GROUNDING_TABLE.code_of
