"""Boxes an artist draws or corrects: a name's box in pixels of the original picture.

A generate request may carry them (``GenerateRequest.boxes``): the names they cover skip grounding.
Checked on arrival for their form here; that each names a name of the job and lies inside the
picture is checked by ``check_boxes`` against the job's names and the picture's size.
"""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, ProtocolError
from .names import MAX_TARGETS, by_name_items
from .plain import finite_number

Box = tuple[float, float, float, float]


def validate_boxes(boxes: Any) -> dict[str, list[float]]:
    """``{name: [x0, y0, x1, y1]}`` with finite numbers, x0 < x1 and y0 < y1; else ``bad_request``."""
    checked: dict[str, list[float]] = {}
    for name, box in by_name_items(boxes, form="boxes must be an object of name: [x0, y0, x1, y1]",
                                   too_many=f"at most {MAX_TARGETS} boxes per job, got {{count}}",
                                   nameless="a box needs the name it is for"):
        numbers = box if isinstance(box, (list, tuple)) and len(box) == 4 else None
        if numbers is None or not all(finite_number(v) for v in numbers):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the box of {name!r} must be four numbers x0, y0, x1, y1")
        x0, y0, x1, y1 = (float(v) for v in numbers)
        if not (x0 < x1 and y0 < y1):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the box of {name!r} has no size: it needs x0 < x1 and "
                                                       f"y0 < y1, got {_text(numbers)}")
        checked[name] = [x0, y0, x1, y1]
    return checked


def check_boxes(boxes: dict[str, list[float]], names: list[str], size: tuple[int, int] | None = None) -> None:
    """Each box names one of the job's ``names`` (ignoring case) and, when the picture's ``size``
    (width, height) is known, lies inside it; else one ``bad_request`` sentence."""
    known = {name.casefold() for name in names}
    for name, box in boxes.items():
        if name.casefold() not in known:
            listed = ", ".join(names) if names else "none: the whole picture is one object"
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"there is a box for {name!r}, which is not one of the "
                                                       f"names ({listed}): add the name or remove its box")
        if size is not None:
            width, height = size
            x0, y0, x1, y1 = box
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"the box of {name!r} ({_text(box)}) reaches past the "
                                                           f"picture, which is {width} x {height} pixels")


def box_for(boxes: dict[str, list[float]], name: str) -> list[float] | None:
    """The box given for ``name`` (ignoring case), if any."""
    folded = name.casefold()
    return next((box for key, box in boxes.items() if key.casefold() == folded), None)


def _text(box: Any) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, (int, float)) else repr(v) for v in box)
