"""The riggers img23d has, by ``--weights`` choice name (``rigger.Rigger``), each module imported when asked:
the one table the backend asks.

``geometric`` needs no model (``geometric``: geodesic voxel binding); ``model`` runs one (its folder's
``row.py``: the rigger and its ``RigModel``), which the driver (``driver.py``) replaces with the geometric
binding, said in one sentence, where its files are not here, a skeleton is given, or it refuses the mesh.
A second rigger is one more folder and one more line here, and for one that runs a model a line in
``RIGGER_ROW_MODULES`` too: its folder's ``facts.ROW`` (``rigger.RiggerRow``: its spec, no code), which the model
list and ``models download`` read without importing the model's networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..env.lazy_table import LazyTable
from .facts import RiggerRow

if TYPE_CHECKING:  # the rigger's interface imports numpy: the catalog reads the rows (``facts``) without it
    from .rigger import Rigger

RIGGER_MODULES: dict[str, str] = {
    "geometric": f"{__package__}.geometric",
    "model": f"{__package__}.skintokens.row",
}
# The rigger that runs no model: the default, and what stands in where a model's rigger cannot run.
DEFAULT_WEIGHTS = STAND_IN = "geometric"


def _rigger() -> type["Rigger"]:
    from .rigger import Rigger  # when a rigger is first asked for (its interface imports numpy)

    return Rigger


RIGGERS: LazyTable["Rigger"] = LazyTable(RIGGER_MODULES, "RIGGER", _rigger, "rigger")

# Each rigger that runs a model -> the module of its row of facts (``facts.ROW``), by the rigger's choice name.
RIGGER_ROW_MODULES: dict[str, str] = {
    "model": f"{__package__}.skintokens.facts",
}
RIGGER_ROWS: LazyTable[RiggerRow] = LazyTable(RIGGER_ROW_MODULES, "ROW", RiggerRow, "rigger's row")
