"""The protocol's tables of named rows (model families, shape and paint models, image editors): one
way to build one and one way to look a name up in it, so every choice an artist or a command line
names is refused in the same sentence when it is not in its table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

from .errors import ErrorCode, ProtocolError


class Named(Protocol):
    @property
    def name(self) -> str: ...


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
