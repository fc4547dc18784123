"""The riggers img23d has, by ``--weights`` choice name (``rigger.Rigger``), each module imported when asked:
the one table the backend asks.

``geometric`` needs no model (``geometric``: geodesic voxel binding); ``model`` runs one (its folder's
``row.py``: the rigger and its ``RigModel``), which the driver (``driver.py``) replaces with the geometric
binding, said in one sentence, where its files are not here, a skeleton is given, or it refuses the mesh.
A second rigger is one more folder and one more line here.
"""

from __future__ import annotations

from ..env.lazy_table import LazyTable
from .rigger import Rigger

RIGGER_MODULES: dict[str, str] = {
    "geometric": f"{__package__}.geometric",
    "model": f"{__package__}.skintokens.row",
}
# The rigger that runs no model: the default, and what stands in where a model's rigger cannot run.
DEFAULT_WEIGHTS = STAND_IN = "geometric"

RIGGERS: LazyTable[Rigger] = LazyTable(RIGGER_MODULES, "RIGGER", Rigger, "rigger")
