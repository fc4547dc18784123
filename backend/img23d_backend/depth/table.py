"""The depth models img23d has, by ``--depth`` choice name: each folder's rows (``model.ROWS``) and code
(``estimator.ESTIMATORS``), imported when asked (``env.room_table.ChoiceTable``). A second depth model is one more
folder and one more line in ``DEPTH_PACKAGES``."""

from __future__ import annotations

from ..env.room_table import ChoiceTable
from .estimator import DepthEstimator, DepthRow

DEPTH_PACKAGES: dict[str, str] = {"da2-small": f"{__package__}.depth_anything",   # choice name -> its folder
                                   "moge2-vits-normal": f"{__package__}.moge"}
DEFAULT_DEPTH = "da2-small"
DEPTH_TABLE: ChoiceTable[DepthRow, DepthEstimator] = ChoiceTable(
    DEPTH_PACKAGES, DepthRow, "estimator", "ESTIMATORS", DepthEstimator, "depth", "depth model")
DEPTH_ROWS, DEPTH_CODE = DEPTH_TABLE.rows, DEPTH_TABLE.code
row_of, estimator_of = DEPTH_TABLE.row_of, DEPTH_TABLE.code_of
