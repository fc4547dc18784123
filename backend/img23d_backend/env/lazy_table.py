"""A table of named entries, each defined by a module that is imported only when its entry is read.

The rooms of swappable models (``editors``, ``materials``) keep one module per model and one table of
them; a job imports the code of the models it uses and no other. Iterating over the names imports
nothing; reading an entry (``table[name]``, ``values()``, ``items()``) imports that entry's module and
takes its ``attribute``, checked to be of ``kind`` and named ``name``. The model families' table
(``families.table``) is one too; its ``kind`` is a function that returns the class, so that the
table itself imports no family's interface (which imports the model manager and the stages).

A ``TableView`` is a table whose entries are made from their names when read (the families' modules from the
protocol's families, their facts from the families' table): it follows the table it reads, as a copy would not.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class LazyTable(Mapping[str, T], Generic[T]):
    """Entries by name, each the ``attribute`` of its module, imported the first time it is read."""

    def __init__(self, modules: Mapping[str, str], attribute: str, kind: type[T] | Callable[[], type[T]],
                 what: str) -> None:
        # Kept, not copied: a line a room's table gains later (a test's second model) is read as the others.
        self._modules = modules
        self._attribute = attribute
        self._kind = kind
        self._what = what  # how the refusal names an entry: "family", "editor"

    def __getitem__(self, name: str) -> T:
        module = importlib.import_module(self._modules[name])  # KeyError for a name the table lacks
        entry = getattr(module, self._attribute)
        kind = self._kind if isinstance(self._kind, type) else self._kind()
        if not isinstance(entry, kind) or getattr(entry, "name", None) != name:
            raise TypeError(f"{self._modules[name]}.{self._attribute} is not the {self._what} {name!r}")
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._modules  # Mapping's own would import the module to find out

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


class TableView(Mapping[str, T], Generic[T]):
    """The names of ``names`` (a table kept, not copied), each one's entry made by ``entry(name)`` when it is read:
    a name the table gains later (a test's second family) is found as the others. Naming, counting or finding a
    name makes no entry."""

    def __init__(self, names: Mapping[str, object], entry: Callable[[str], T]) -> None:
        self._names = names
        self._entry = entry

    def __getitem__(self, name: str) -> T:
        if name not in self._names:
            raise KeyError(name)
        return self._entry(name)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
