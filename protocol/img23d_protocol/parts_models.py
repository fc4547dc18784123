"""The parts models an artist chooses between: which model draws an object's parts whole (a parts request's
mode "model", a Generate name with its parts in brackets), with what the add-on's panel offers for it.

The add-on's Parts By and its grid and limit fields are built from these rows, and its licence lines from
the row's repository (``licences.MODEL_LICENCES``); the backend's parts table (``parts/table.py``) holds one
model per name: tests/test_protocol_model_rows.py holds the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ErrorCode, ProtocolError
from .licences import ModelLicence, model_licence
from .limits import MAX_DRAWN_PARTS
from .tables import by_name, look_up


@dataclass(frozen=True)
class PartsModel:
    name: str                  # the backend's parts table's key (``parts --parts-model``), the add-on's choice
    label: str                 # what the add-on shows
    description: str           # the add-on's tooltip: what it makes (its licence's restrictions are added)
    repo_id: str               # its repository: the licence that reaches the parts it makes
    grids: tuple[int, ...]     # the decoding grids it takes, cells a side (a request's ``grid``)
    default_grid: int          # the grid the add-on offers first
    max_parts: int             # the most parts one request makes (a request's ``max_parts``)

    @property
    def licence(self) -> ModelLicence:
        """Its repository's licence row (every parts model has one: tests/test_protocol_model_rows.py)."""
        entry = model_licence(self.repo_id)
        if entry is None:
            raise KeyError(f"parts model {self.name!r}: {self.repo_id} has no licence row (licences.py)")
        return entry


PARTS_MODELS: dict[str, PartsModel] = by_name(
    # AutoPartGen's release: 256 and 512 as it decodes (smaller for a quick look), its part loop's 40 parts.
    PartsModel("autopartgen", "AutoPartGen", "Draws each part whole, hidden surfaces included",
               "facebook/autopartgen", grids=(32, 64, 128, 256, 512), default_grid=256,
               max_parts=MAX_DRAWN_PARTS),
)
DEFAULT_PARTS_MODEL = "autopartgen"   # the one that draws a Generate name's bracketed parts


def offered_grids() -> tuple[int, ...]:
    """Every grid some parts model decodes at, smallest first: the choices the add-on and the command line offer
    (the model that runs checks its own, the backend's ``parts.part.check_limits``)."""
    return tuple(sorted({grid for row in PARTS_MODELS.values() for grid in row.grids}))


def check_parts_model(name: object) -> str:
    """(1.24) A parts request's ``model`` as it arrived: "" (the backend's own: the one it was started with,
    else the default) or a row's name; anything else is refused in one sentence naming the rows."""
    if not isinstance(name, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "model must be a string")
    return name and look_up(PARTS_MODELS, name, "parts model").name
