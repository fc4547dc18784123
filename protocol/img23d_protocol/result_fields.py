"""The checked readers of data another process wrote (perhaps another machine, perhaps an older or
newer img23d): a job's result (``results``), a target's completion (``completion``), a run's target
records (``run_record``) and its manifest (``run_manifest``). Each reads one key and refuses a wrong
type or an oversized value with one sentence (``bad_request``) naming where it was and the key:
"<where>'s '<key>' <problem>", ``where`` being e.g. "a generate result" or "a target record".

``default`` says what a key's absence means: ``REQUIRED`` refuses it, any other value is what a
missing key reads as. A null text, number or flag reads as None only where the default is None (a
writer never wrote one elsewhere); a null list or object reads as missing.
"""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, ProtocolError

MAX_TEXT = 4096               # a path, a name or a sentence
MAX_ITEMS = 10_000            # targets, names, boxes or models of one result


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()   # a key that must be there (a missing one is refused as of the wrong type)


def refuse(where: str, key: str, problem: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, f"{where}'s {key!r} {problem}")


def whole(where: str, data: Any, problem: str = "is not an object") -> dict[str, Any]:
    """``data`` when it is an object; else ``bad_request``: "<where> <problem>"."""
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{where} {problem}")
    return data


def _sized(value: Any, kind: type, limit: int, where: str, key: str, problem: str) -> Any:
    if not isinstance(value, kind) or len(value) > limit:
        raise refuse(where, key, problem)
    return value


def text(data: dict[str, Any], where: str, key: str, default: Any = REQUIRED) -> Any:
    """``data[key]`` as a string of at most ``MAX_TEXT`` characters."""
    value = data.get(key, default)
    if value is None and default is None:
        return None
    return _sized(value, str, MAX_TEXT, where, key, f"is not a string of at most {MAX_TEXT} characters")


def number(data: dict[str, Any], where: str, key: str, default: Any = REQUIRED, whole_number: bool = True) -> Any:
    """``data[key]`` as a whole number (or, with ``whole_number`` False, any number)."""
    value = data.get(key, default)
    if value is None and default is None:
        return None
    kinds = (int,) if whole_number else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise refuse(where, key, "is not a whole number" if whole_number else "is not a number")
    return value


def flag(data: dict[str, Any], where: str, key: str, default: Any = REQUIRED) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise refuse(where, key, "is not true or false")
    return value


def items(data: dict[str, Any], where: str, key: str, default: Any = REQUIRED) -> Any:
    """``data[key]`` as a list of at most ``MAX_ITEMS`` items."""
    value = data.get(key)
    if value is None and default is not REQUIRED:
        return default
    return _sized(value, list, MAX_ITEMS, where, key, f"is not a list of at most {MAX_ITEMS} items")


def mapping(data: dict[str, Any], where: str, key: str, default: Any = REQUIRED) -> Any:
    """``data[key]`` as an object of at most ``MAX_ITEMS`` keys."""
    value = data.get(key)
    if value is None and default is not REQUIRED:
        return default
    return _sized(value, dict, MAX_ITEMS, where, key, f"is not an object of at most {MAX_ITEMS} keys")


def _number_like(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numbers(data: dict[str, Any], where: str, key: str, default: Any = REQUIRED) -> Any:
    """``data[key]`` as a list of numbers (``items``'s limits)."""
    value = items(data, where, key, default)
    if value is not None and not all(_number_like(v) for v in value):
        raise refuse(where, key, "is not a list of numbers")
    return value


def names(data: dict[str, Any], where: str, key: str) -> list[str]:
    """``data[key]`` as a list of strings of at most ``MAX_TEXT`` characters (``items``'s limits)."""
    value = items(data, where, key)
    if not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
        raise refuse(where, key, "is not a list of names")
    return value


def boxes(data: dict[str, Any], where: str) -> dict[str, list[list[float]]]:
    """``data["boxes"]``: each name's [x0, y0, x1, y1] boxes."""
    value = mapping(data, where, "boxes")
    for name, listed in value.items():
        if len(name) > MAX_TEXT or not isinstance(listed, list) or len(listed) > MAX_ITEMS or not all(
                isinstance(b, list) and len(b) == 4 and all(_number_like(v) for v in b) for b in listed):
            raise refuse(where, "boxes", "is not a list of [x0, y0, x1, y1] boxes for each name")
    return value
