"""JSON that any reader can parse: numpy scalars, arrays, paths and dataclasses made plain."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import PurePath
from typing import Any


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
