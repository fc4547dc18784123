"""A family's facts: its models' rows and the figures the backend's mechanism asks of it (``FamilyFacts``).

The rows are what the registry held for each family: its shape models (keyed by the protocol's
names), its texture models, its tiny replicas' specs; the figures are what the preflight and the
loaders ask: how its shape stage's memory grows, the precision its shape model runs in on a device.
Each family keeps them in a light module of its own folder (``families/<family>/specs.py``), which
imports no network, no torch and no code derived from anyone's model: the catalog (``catalog``)
composes the model sets from them, and the command line lists the models, without importing a
family's code. ``table.facts_of`` finds a family's facts by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..models.dtypes import Precision
from ..models.shape_memory import ShapeMemory
from ..models.specs import ModelSpec

# The roles whose rows a family brings, in the order the model lists show them.
ROW_ROLES = ("shape", "delight", "paint")


@dataclass(frozen=True)
class TinyModels:
    """A family's part of the tiny replica set: its shape model's replica (and its views model's, or
    None), its texture models' (no delight where the family has none)."""

    shape: ModelSpec
    paint: ModelSpec
    delight: ModelSpec | None = None
    shape_views: ModelSpec | None = None


@dataclass(frozen=True)
class FamilyFacts:
    """One family's rows and figures, as the catalog, the preflight and the loaders ask for them."""

    name: str                                    # its key in img23d_protocol.MODEL_FAMILIES
    # Its models by role (``ROW_ROLES``) and then by the name the model list shows; its shape models'
    # names are the protocol's (SHAPE_MODELS).
    rows: Mapping[str, Mapping[str, ModelSpec]]
    # The --paint choice -> its texture models in a real set: (delight or None, paint).
    texture: Callable[[str], tuple[ModelSpec | None, ModelSpec]]
    # (the tiny set's root, the --paint choice, the --shape choice or None) -> its replicas' specs.
    tiny: Callable[[Path, str, str | None], TinyModels]
    # The dtype its shape model runs in on a device; None: its loader's own rule (models.dtypes).
    shape_precision: Callable[[Any], Precision | None]
    # How its shape stage's memory grows (for the preflight), given that precision and the shape
    # model's parameters.
    shape_memory: Callable[[Precision | None, int], ShapeMemory]
    # How its views model's shape stage grows (the shape model of names with views); None: it has none.
    views_memory: ShapeMemory | None = None
    # The --paint choices that pick among its paint models (empty: it has one paint model, chosen by the family).
    paint_choices: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = set(self.rows) - set(ROW_ROLES)
        if unknown or not {"shape", "paint"} <= set(self.rows):
            raise ValueError(f"family {self.name!r}: rows for {sorted(self.rows)}; it needs shape and paint, "
                             f"and may add only {', '.join(ROW_ROLES)}")
        if not set(self.paint_choices) <= set(self.rows["paint"]):
            raise ValueError(f"family {self.name!r}: paint choices {sorted(self.paint_choices)} not among its rows")
