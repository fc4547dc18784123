"""The table of a room of swappable models (``editors``, ``materials``, ``parts``): one folder per model, by
choice name, each folder's row and code read lazily (``lazy_table.LazyTable``), and the option of a model's
spec that says which of them it is.

Every such room has the same three parts: its folders (``<room>/<model>/``), a row of facts per folder
(``<folder>.model.ROW``: imported when the catalog, a listing or an estimate reads it) and its code
(``<folder>.<module>.<ATTRIBUTE>``: imported when a job loads the model or a replica build needs it); a spec
(real, tiny or full-size replica) names its model in its options under the room's key. A second model in a
room is one more folder and one more line in the room's table.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Callable, Generic, Protocol, TypeVar

from .lazy_table import LazyTable, TableView

R = TypeVar("R")
C = TypeVar("C")


class NamedSpec(Protocol):
    """A model's spec as the table reads it (``models.specs.ModelSpec`` is one)."""

    @property
    def options(self) -> Mapping[str, Any]: ...

    @property
    def display(self) -> str: ...


class RoomTable(Generic[R, C]):
    """A room's models by choice name: ``rows`` (each folder's ``model.ROW``, of ``row_kind``) and ``code``
    (each folder's ``code_module``'s ``code_attribute``, of ``code_kind``); a spec names its model under
    ``option``; ``what`` names one of them in a refusal ("parts model")."""

    def __init__(self, packages: Mapping[str, str], row_kind: type[R], code_module: str, code_attribute: str,
                 code_kind: type[C], option: str, what: str) -> None:
        # Read when asked, not copied: a line the room's table gains after this (a test's second model) is seen
        # by the rows, the code and the refusals alike.
        self.packages = packages
        self.option = option
        self.what = what
        self.rows: LazyTable[R] = LazyTable(_Modules(packages, "model"), "ROW", row_kind, f"{what}'s row")
        self.code: LazyTable[C] = LazyTable(_Modules(packages, code_module), code_attribute, code_kind, what)

    def name_of(self, spec: NamedSpec) -> str:
        """The choice name ``spec``'s options give; ``ValueError`` naming the room's models for any other."""
        name = spec.options.get(self.option)
        if name not in self.packages:
            raise ValueError(f"{spec.display} is no {self.what} img23d has ({', '.join(self.packages)})")
        return str(name)

    def row_of(self, spec: NamedSpec) -> R:
        """The row of the model ``spec`` is."""
        return self.rows[self.name_of(spec)]

    def code_of(self, spec: NamedSpec) -> C:
        """The code of the model ``spec`` is."""
        return self.code[self.name_of(spec)]


class _Modules(Mapping[str, str]):
    """Each package's ``module``, by choice name, read from ``packages`` as it is when asked."""

    def __init__(self, packages: Mapping[str, str], module: str) -> None:
        self._packages = packages
        self._module = module

    def __getitem__(self, name: str) -> str:
        return f"{self._packages[name]}.{self._module}"

    def __iter__(self) -> Iterator[str]:
        return iter(self._packages)

    def __len__(self) -> int:
        return len(self._packages)


class ChoiceTable(RoomTable[R, C]):
    """A room whose folders may each hold more than one choice (the grounding model's three sizes, the matting
    model's two checkpoints): a folder's ``model.ROWS`` and its ``code_module``'s ``code_attribute`` are dicts by
    choice name, and ``packages`` names a choice's folder. The rest is ``RoomTable``'s."""

    def __init__(self, packages: Mapping[str, str], row_kind: type[R], code_module: str, code_attribute: str,
                 code_kind: type[C], option: str, what: str) -> None:
        super().__init__(packages, row_kind, code_module, code_attribute, code_kind, option, what)
        self.rows = _chosen(packages, "model", "ROWS", row_kind, f"{what}'s row")  # type: ignore[assignment]
        self.code = _chosen(packages, code_module, code_attribute, code_kind, what)  # type: ignore[assignment]


def _chosen(packages: Mapping[str, str], module: str, attribute: str, kind: type, what: str) -> TableView[Any]:
    """Each choice's entry in its folder's ``module``'s ``attribute`` (a dict by choice name), imported when read
    and checked to be of ``kind`` and named for its choice."""

    def entry(name: str) -> Any:
        path = f"{packages[name]}.{module}"
        found = getattr(importlib.import_module(path), attribute).get(name)
        if not isinstance(found, kind) or getattr(found, "name", None) != name:
            raise TypeError(f"{path}.{attribute}[{name!r}] is not the {what} {name!r}")
        return found

    return TableView(packages, entry)


def check_named(row: Any, option: str, what: str) -> None:
    """``ValueError`` unless ``row``'s spec names it in its options under ``option``: the key a spec's model is
    found by in its room's table (``name_of``)."""
    if row.spec.options.get(option) != row.name:
        raise ValueError(f"{what} {row.name!r}: its spec's options must name it (options[{option!r}])")


@dataclass(frozen=True)
class Held(Generic[C]):
    """What the model manager holds for a room whose driver runs the model's own code (grounding, matting, depth):
    that code and what its loader loaded."""

    code: C
    model: Any


def held_loader(code: Any, spec: Any) -> Callable[[Any, Any], Any]:
    """The manager's loader for ``spec`` (``models.manager.Loader``): ``code``'s own, what it loads held with the
    code (``Held``), so that the room's driver runs the code of the model it is handed."""
    load = code.loader(spec)

    def loaded(folder: Any, device: Any) -> Any:
        model = load(folder, device)
        return replace(model, obj=Held(code, model.obj))

    return loaded
