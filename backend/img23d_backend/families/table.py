"""The model families img23d has, by name: the one table the backend asks (``family.Family``).

Its families are the protocol's (``img23d_protocol.MODEL_FAMILIES``: what the add-on and the command line
offer), read when asked, and a family's code is the package ``families/<its name>/`` (the licence-clean
family's is ``families/step1x/``, named for the models it runs: ``FAMILY_FOLDERS``). So a new family is its
folder and its protocol rows, with no line here (tests/backend/families/test_family_second.py adds a
test-only one so).

Each family's ``family.py`` defines its ``FAMILY``, and that module is imported only when something asks
for that family (``family_named``, ``family_of``, ``FAMILIES[name]``): a job imports the code of the
families its models belong to and no other. So a licence-clean job never imports Hunyuan3D-2's modules,
which are derived from Tencent-licensed code (tests/backend/jobs/test_clean_job_modules.py reads a real
clean job's ``sys.modules``).

A family's facts (its models' rows, memory and precision: ``facts.FamilyFacts``) are data, in a light
module of its folder (its ``specs.py``: ``FACTS_MODULES``): ``facts_of`` imports that module alone, so the
catalog composes the model sets and the command line lists every family's models without importing any
family's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from img23d_protocol import CLEAN, MODEL_FAMILIES

from ..env.lazy_table import LazyTable, TableView
from ..models.specs import ModelSpec
from .facts import FamilyFacts

if TYPE_CHECKING:  # the interface imports the model manager and the stages: the catalog reads facts without them
    from .family import Family

# The families whose folder is not their name (the licence-clean family's is named for the models it runs).
FAMILY_FOLDERS: dict[str, str] = {CLEAN: "step1x"}


def _module_of(module: str) -> Callable[[str], str]:
    """A family's name -> its folder's module ``module``."""
    return lambda name: f"{__package__}.{FAMILY_FOLDERS.get(name, name)}.{module}"


# Each family's name -> the module whose ``FAMILY`` is that family's ``Family``: the protocol's families, read
# when asked (a family it gains later, a test's second family, is found as the others).
FAMILY_MODULES: Mapping[str, str] = TableView(MODEL_FAMILIES, _module_of("family"))
# Each family's name -> the light module whose ``FACTS`` are that family's ``FamilyFacts``.
FACTS_MODULES: Mapping[str, str] = TableView(MODEL_FAMILIES, _module_of("specs"))


class FamilyTable(LazyTable["Family"]):
    """The families by name, each imported the first time it is asked for.

    Iterating over the names imports nothing; reading a value (``table[name]``, ``values()``,
    ``items()``) imports that family's module."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        super().__init__(modules, "FAMILY", _family_class, "family")


def _family_class() -> type["Family"]:
    from .family import Family  # the interface imports the manager and the stages: only once a family is read

    return Family


FAMILIES = FamilyTable(FAMILY_MODULES)


def family_named(name: str) -> Family:
    """The family ``name`` (a key of img23d_protocol.MODEL_FAMILIES), its module imported on first use."""
    if name not in FAMILIES:
        raise ValueError(f"no model family {name!r}; img23d has {', '.join(FAMILIES)}")
    return FAMILIES[name]


def family_of(spec: ModelSpec) -> Family:
    """The family whose code loads and runs ``spec`` (its shape or paint kind's, or the one it names)."""
    if spec.family is None:
        raise ValueError(f"{spec.display} ({spec.role}) belongs to no model family: every family shares it")
    return family_named(spec.family)


def facts_of(name: str) -> FamilyFacts:
    """The family ``name``'s facts, from its light module (none of the family's code is imported)."""
    if name not in FACTS_MODULES:
        raise ValueError(f"no model family {name!r}; img23d has {', '.join(FACTS_MODULES)}")
    facts = importlib.import_module(FACTS_MODULES[name]).FACTS
    if not isinstance(facts, FamilyFacts) or facts.name != name:
        raise TypeError(f"{FACTS_MODULES[name]}.FACTS are not the family {name!r}'s facts")
    return facts
