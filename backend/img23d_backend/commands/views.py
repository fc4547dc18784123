"""``generate --view NAME:SIDE=PATH`` (repeatable): more pictures of a name, from its left, back or right.

The form and the side are checked as the argument is read (the protocol's sentences,
``img23d_protocol.validate_side_views``); the names, the files and a side given twice once every
argument is read, before anything is loaded (``views_from_arguments``). The job reads each picture
again as untrusted (``views.given``): a file that changed meanwhile is left out there, in one sentence.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from img23d_protocol import SIDES, ErrorCode, ProtocolError, check_views, validate_side_views, validate_views

FLAG = "--view"
METAVAR = "NAME:SIDE=PATH"
HELP = (f"another picture of a name, from its {', '.join(SIDES[:-1])} or {SIDES[-1]} (repeatable), e.g. "
        "--view chair:back=back.jpg: "
        "the side names the side of the object the picture shows (docs/views.md); every instance of the name "
        "takes it")


def add_view_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(FLAG, action="append", type=view_argument, default=[], metavar=METAVAR, help=HELP)


def view_argument(text: str) -> tuple[str, str, str]:
    """``NAME:SIDE=PATH`` -> (name, side, path); a wrong form or side is one sentence."""
    named, separator, path = text.partition("=")
    name, colon, side = named.rpartition(":")
    if not separator or not colon or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"must be {METAVAR} (SIDE one of {', '.join(SIDES)}), e.g. "
                                         f"chair:back=back.jpg, not {text!r}")
    try:
        checked = validate_side_views({side: path}, repr(name.strip()))
    except ProtocolError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    ((side, path),) = checked.items()
    return name.strip(), side, path


def views_from_arguments(given: list[tuple[str, str, str]], names: list[str] | None) -> dict[str, dict[str, str]]:
    """The request's ``{name: {side: path}}`` from the ``--view`` values: each name one of ``names``
    (None: ``--targets auto``), each file there and readable, each side of a name given once; else
    ``ProtocolError(bad_request)`` with one sentence."""
    if not given:
        return {}
    if names is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{FLAG} needs the names in --targets, not 'auto'")
    views: dict[str, dict[str, str]] = {}
    for name, side, path in given:
        key = next((known for known in views if known.casefold() == name.casefold()), name)
        sides = views.setdefault(key, {})
        if side in sides:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{FLAG} gives {name!r} two {side} pictures "
                                                       f"({sides[side]} and {path}): give one picture a side")
        sides[side] = _readable(Path(path).expanduser(), name, side)
    views = validate_views(views)
    check_views(views, names)
    return views


def _readable(path: Path, name: str, side: str) -> str:
    """``path`` as the job will read it (absolute), when it is a file this user can read."""
    what = f"the {side} view of {name!r}"
    if not path.exists():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what}: no file at {path}")
    if not path.is_file():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what}: {path} is not a file")
    if not os.access(path, os.R_OK):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what}: {path} cannot be read (permission denied)")
    return str(path.resolve())
