"""The grounding models img23d has, by ``--grounding`` choice name (Qwen3-VL's three sizes share one folder): the
one table the backend asks for a grounding model's row (``grounder.GroundingRow``, each folder's ``model.ROWS``)
or code (``grounder.Grounder``, its ``grounder.GROUNDERS``), each imported when first read. A second grounding
model is one more folder and one more line in ``GROUNDING_PACKAGES``."""

from __future__ import annotations

from ..env.room_table import ChoiceTable
from .grounder import Grounder, GroundingRow

# Each grounding model's choice name -> its folder (a package beside this module).
GROUNDING_PACKAGES: dict[str, str] = {
    "2b": f"{__package__}.qwen3_vl",
    "4b": f"{__package__}.qwen3_vl",
    "8b": f"{__package__}.qwen3_vl",
}
DEFAULT_GROUNDING = "2b"
GROUNDING_TABLE: ChoiceTable[GroundingRow, Grounder] = ChoiceTable(
    GROUNDING_PACKAGES, GroundingRow, "grounder", "GROUNDERS", Grounder, "grounding", "grounding model")
GROUNDING_ROWS, GROUNDING_CODE = GROUNDING_TABLE.rows, GROUNDING_TABLE.code
row_of, grounder_of = GROUNDING_TABLE.row_of, GROUNDING_TABLE.code_of
