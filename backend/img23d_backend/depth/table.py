"""The depth models img23d has, by ``--depth`` choice name: the one table the backend asks
(``estimator.DepthRow``, ``estimator.DepthEstimator``).

Each entry names its model's folder; its row (``<folder>.model.ROWS[name]``: facts, no code) is imported when
the catalog or the listing reads it, its code (``<folder>.estimator.ESTIMATORS[name]``) when a job loads it or a
replica build needs it. A second depth model is one more folder and one more line here.
"""

from __future__ import annotations

from typing import Mapping

from ..env.room_table import ChoiceTable
from .estimator import DepthEstimator, DepthRow

# Each depth model's choice name -> its folder (a package beside this module).
DEPTH_PACKAGES: dict[str, str] = {
    "da2-small": f"{__package__}.depth_anything",
}
DEFAULT_DEPTH = "da2-small"

DEPTH_TABLE: ChoiceTable[DepthRow, DepthEstimator] = ChoiceTable(DEPTH_PACKAGES, DepthRow, "estimator", "ESTIMATORS",
                                                                 DepthEstimator, "depth", "depth model")
DEPTH_ROWS: Mapping[str, DepthRow] = DEPTH_TABLE.rows
DEPTH_CODE: Mapping[str, DepthEstimator] = DEPTH_TABLE.code
row_of = DEPTH_TABLE.row_of
estimator_of = DEPTH_TABLE.code_of
