"""The riggers img23d has, by ``--weights`` choice name (``rigger.Rigger``), each module imported when asked.

``geometric`` needs no model (``geometric``: geodesic voxel binding). A model's rigger is one more line
here pointing at its folder's module (which defines ``RIGGER``).
"""

from __future__ import annotations

from ..env.lazy_table import LazyTable
from .rigger import Rigger

RIGGER_MODULES: dict[str, str] = {
    "geometric": f"{__package__}.geometric",
}
DEFAULT_WEIGHTS = "geometric"

RIGGERS: LazyTable[Rigger] = LazyTable(RIGGER_MODULES, "RIGGER", Rigger, "rigger")
