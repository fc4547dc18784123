"""The checked readers of a job result's fields (``results``): each reads one key of the data another
process sent and refuses a wrong type or an oversized value with one sentence (``bad_request``)
naming the result and the key. Package-internal: ``results`` and ``completion`` (a target's
completion record) use them.
"""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, ProtocolError

MAX_TEXT = 4096               # a path, a name or a sentence
MAX_ITEMS = 10_000            # targets, names, boxes or models of one result


def _refuse(what: str, key: str, problem: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, f"a {what} result's {key!r} {problem}")


def _text(data: dict[str, Any], what: str, key: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise _refuse(what, key, f"is not a string of at most {MAX_TEXT} characters")
    return value


def _number(data: dict[str, Any], what: str, key: str, *, optional: bool = False, whole: bool = True) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise _refuse(what, key, "is not a whole number" if whole else "is not a number")
    return value


def _flag(data: dict[str, Any], what: str, key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise _refuse(what, key, "is not true or false")
    return value


def _items(data: dict[str, Any], what: str, key: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise _refuse(what, key, f"is not a list of at most {MAX_ITEMS} items")
    return value


def _object(data: dict[str, Any], what: str, key: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise _refuse(what, key, f"is not an object of at most {MAX_ITEMS} keys")
    return value


def _numbers(data: dict[str, Any], what: str, key: str, *, optional: bool = False) -> Any:
    value = _items(data, what, key, optional=optional)
    if value is not None and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise _refuse(what, key, "is not a list of numbers")
    return value


def _names(data: dict[str, Any], what: str, key: str) -> list[str]:
    value = _items(data, what, key)
    if not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
        raise _refuse(what, key, "is not a list of names")
    return value


def _boxes(data: dict[str, Any], what: str) -> dict[str, list[list[float]]]:
    value = _object(data, what, "boxes")
    for name, boxes in value.items():
        if len(name) > MAX_TEXT or not isinstance(boxes, list) or len(boxes) > MAX_ITEMS or not all(
                isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                            for v in b) for b in boxes):
            raise _refuse(what, "boxes", "is not a list of [x0, y0, x1, y1] boxes for each name")
    return value


def _whole(what: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"a {what} result must be an object")
    return data
