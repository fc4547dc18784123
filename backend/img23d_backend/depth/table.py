"""The depth models img23d has, by ``--depth`` choice name (``commands/common_options.py``: the option's choices
are these rows, da2-small and moge2-vits-normal; its help the protocol's ``DEPTH_MODELS``, the same names,
tests/test_protocol_model_rows.py): each folder's rows (``model.ROWS``) and code (``estimator.ESTIMATORS``),
imported when asked (``env.room_table.ChoiceTable``). A second depth model is one more folder, one more line in
``DEPTH_PACKAGES``, its row in ``DEPTH_MODELS`` (the ``--depth`` help, the add-on's Depth choice) and its licence's
rows, as a second matting model is (tests/backend/matting/test_role_matting_second.py)."""

from __future__ import annotations

from ..env.room_table import ChoiceTable
from .estimator import DepthEstimator, DepthRow

DEPTH_PACKAGES: dict[str, str] = {"da2-small": f"{__package__}.depth_anything",   # choice name -> its folder
                                   "moge2-vits-normal": f"{__package__}.moge"}
DEFAULT_DEPTH = "moge2-vits-normal"   # metric: each object where its points say (issue 98)
# The only depth model before --depth, and the default until MoGe-2: a batch's options key leaves it unnamed, so a
# batch keyed without a depth (it ran this one) resumes (``session.Models.describe``).
UNKEYED_DEPTH = "da2-small"
DEPTH_TABLE: ChoiceTable[DepthRow, DepthEstimator] = ChoiceTable(
    DEPTH_PACKAGES, DepthRow, "estimator", "ESTIMATORS", DepthEstimator, "depth", "depth model")
DEPTH_ROWS, DEPTH_CODE = DEPTH_TABLE.rows, DEPTH_TABLE.code
row_of, estimator_of = DEPTH_TABLE.row_of, DEPTH_TABLE.code_of
