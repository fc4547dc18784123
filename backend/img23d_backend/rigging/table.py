"""The riggers img23d has, by ``--weights`` choice name (``rigger.Rigger``), each module imported when asked.

``geometric`` needs no model (``geometric``: geodesic voxel binding); ``model`` is SkinTokens
(``skintokens/rigger.py``), which ``jobs/rig.py`` replaces with the geometric binding, said in one sentence,
where its files are not here, a skeleton is given, or it refuses the mesh.
"""

from __future__ import annotations

from ..env.lazy_table import LazyTable
from .rigger import Rigger

RIGGER_MODULES: dict[str, str] = {
    "geometric": f"{__package__}.geometric",
    "model": f"{__package__}.skintokens.rigger",
}
MODEL_WEIGHTS = "model"   # the rigger that needs a model: where it cannot run, the geometric one stands in
DEFAULT_WEIGHTS = "geometric"

RIGGERS: LazyTable[Rigger] = LazyTable(RIGGER_MODULES, "RIGGER", Rigger, "rigger")
