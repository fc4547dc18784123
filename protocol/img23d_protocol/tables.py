"""The protocol's tables of named rows (model families, shape and paint models, image editors, the shared
models): one way to build one, one way to look a name up in it, so every choice an artist or a command line
names is refused in the same sentence when it is not in its table, and one way to say its rows in a command
line's help (``rows_help``), from the same label and description the add-on's menu shows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from .errors import ErrorCode, ProtocolError


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Described(Named, Protocol):
    """A row an artist chooses: what the add-on's menu shows (``label``) and its tooltip (``description``)."""

    @property
    def label(self) -> str: ...

    @property
    def description(self) -> str: ...


Row = TypeVar("Row", bound=Named)


def by_name(*rows: Row) -> dict[str, Row]:
    """The table of ``rows`` keyed by each one's ``name``, in their order."""
    return {row.name: row for row in rows}


def look_up(table: Mapping[str, Row], name: str, what: str, offered: Iterable[str] | None = None) -> Row:
    """``table[name]``; else ``bad_request``: "unknown <what> 'name'; choose from" the names ``offered``
    (all of the table's when None)."""
    try:
        return table[name]
    except KeyError:
        choices = ", ".join(table if offered is None else offered)
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown {what} {name!r}; choose from {choices}") from None


def rows_help(what: str, rows: Iterable[Described]) -> str:
    """``rows`` as a command line's help names them, from what the add-on's menu shows of each: "grounding model:
    2b (Qwen3-VL 2B, about 4.4 GB), ..."."""
    return f"{what}: " + ", ".join(f"{row.name} ({row.label}, {row.description[:1].lower()}{row.description[1:]})"
                                   for row in rows)
