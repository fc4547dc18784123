"""JSON that any reader can parse: numpy scalars, arrays, paths and dataclasses made plain; and the one
reader of JSON that crosses a process or machine boundary (``loads``)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import PurePath
from typing import Any, TypeGuard

MOST_DIGITS = 20   # a longer whole number is refused: no field needs one, and one of 309 digits has no float
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def plain(value: Any) -> Any:
    """``value`` as plain JSON data: dicts with string keys, lists, str, int, float, bool, None.

    Whatever reaches a writer from numpy or torch (``numpy.bool_``, ``numpy.float32``, arrays,
    0-d tensors) is turned into its Python value through ``tolist()``, which both libraries
    give every scalar and array; NaN and infinities, which JSON cannot carry, become None.
    Standard library only, duck-typed: this module must not import numpy.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum or another int subclass becomes a plain int
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(plain(key)) if not isinstance(key, str) else key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    to_list = getattr(value, "tolist", None)  # numpy scalars and arrays, torch tensors
    if callable(to_list):
        return plain(to_list())
    raise TypeError(f"{type(value).__name__} is not JSON data")


def dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON text of ``value`` after ``plain()``: the one encoder for every line and file."""
    separators = None if indent is not None else (",", ":")
    return json.dumps(plain(value), ensure_ascii=False, indent=indent, separators=separators, allow_nan=False)


def finite_number(value: Any) -> TypeGuard[int | float]:
    """Whether a JSON value is a number a field can take: an int or a float, finite, not a bool (Python's bool is
    an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class NotPlainJSON(ValueError):
    """JSON text that parses in Python but holds what no field can take: a whole number too long to be a
    float (``math.isfinite`` and ``float`` raise on it) or a lone UTF-16 surrogate (no character: a line
    holding one cannot be written back as UTF-8)."""


def loads(text: str | bytes) -> Any:
    """``json.loads`` for what arrives from another process or machine (protocol lines, run manifests):
    ``NotPlainJSON`` (a ``ValueError``) for a whole number of over ``MOST_DIGITS`` digits or a lone
    surrogate, as for text that is not JSON."""
    data = json.loads(text, parse_int=_whole_number)
    # A lone surrogate comes only from a \uD800-\uDFFF escape (strict UTF-8 has none): look only then.
    if isinstance(text, bytes) or _ESCAPED_SURROGATE.search(text) is not None:
        _check_strings(data)
    return data


def _whole_number(digits: str) -> int:
    if len(digits.lstrip("-")) > MOST_DIGITS:
        raise NotPlainJSON(f"holds a whole number of {len(digits.lstrip('-'))} digits (at most {MOST_DIGITS})")
    return int(digits)


def _check_strings(data: Any) -> None:
    waiting = [data]
    while waiting:   # a loop, not recursion: the nesting json.loads allows is deeper than Python's stack
        value = waiting.pop()
        if isinstance(value, dict):
            waiting.extend(value.keys())
            waiting.extend(value.values())
        elif isinstance(value, list):
            waiting.extend(value)
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                lone = ord(value[exc.start])
                raise NotPlainJSON(f"holds text that is not valid (a lone U+{lone:04X}, half of a UTF-16 pair)") \
                    from None
