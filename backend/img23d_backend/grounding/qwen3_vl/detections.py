"""Qwen3-VL's grounding answers: from its text to boxes in the picture's pixels.

This module owns two things, and nothing that needs a model or an image:

* ``grounding_prompt`` and ``SUGGEST_PROMPT`` - the exact questions put to the model (Qwen-VL style).
* ``parse_detections`` - turning the model's free-form answer into the room's ``Detection``
  objects, whose boxes are in pixels of the original image.  Model answers are messy
  (code fences, prose, Python literals, truncated JSON, points instead of boxes,
  assorted key names), so the parser is deliberately lenient and never raises on the
  model's text: whatever it cannot read is skipped.

Which detection belongs to which requested name is the room's ``matching``'s job.

No torch or numpy, so it can be imported and tested without them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterator

from ..grounder import Detection
from .lenient_json import PartialDict, fence_segments, json_values

__all__ = [
    "ParsedAnswer",
    "SUGGEST_PROMPT",
    "grounding_prompt",
    "parse_answer",
    "parse_detections",
]

# A point answer becomes a square box of this half-size, as a fraction of the image's
# longer side (2% each way, so 4% across), then clamped to the image.  Large enough to
# crop something recognisable around the point, small enough not to swallow neighbours.
POINT_BOX_FRACTION = 0.02

# Qwen3-VL answers on a 0..1000 grid regardless of the image's size.
RELATIVE_GRID = 1000.0

# Keys are compared lower-cased.  Earlier keys win when an object has several.
_BOX_KEYS = ("bbox_2d", "box_2d", "bbox", "box")
_POINT_KEYS = ("point_2d", "point")
_LABEL_KEYS = ("label", "name", "category", "class", "object", "text")
_SCORE_KEYS = ("score", "confidence", "conf")

# Named-corner spellings for boxes given as objects; the first complete set wins.
# (x1, y1, x2, y2) is tried before (x0, y0, x1, y1) because both use "x1".
_CORNER_KEY_SETS = (
    ("x1", "y1", "x2", "y2"),
    ("xmin", "ymin", "xmax", "ymax"),
    ("x0", "y0", "x1", "y1"),
    ("left", "top", "right", "bottom"),
)
_SIZE_KEY_SETS = (("x", "y", "w", "h"), ("x", "y", "width", "height"))

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

# Two boxes of one label overlapping more than this are one object said twice (a model that
# repeats itself); two real neighbours of one kind overlap far less.
DUPLICATE_IOU = 0.9


# --------------------------------------------------------------------------- prompt


# The question that lists the picture's objects: it asks for the answer grounding gives (JSON objects with
# ``bbox_2d`` on the 0..1000 grid and a ``label``), so ``parse_detections`` reads it as leniently.
SUGGEST_PROMPT = (
    "List every distinct object in this picture that could be made into a 3D model. For each "
    "object instance give a short name of one or two words and its bounding box. Report bbox "
    'coordinates in JSON format: [{"bbox_2d": [x1, y1, x2, y2], "label": "name"}, ...].'
)


def grounding_prompt(targets: list[str]) -> str:
    """The grounding question for ``targets`` (names are stripped, empty ones dropped)."""
    if isinstance(targets, str):
        raise TypeError("targets must be a list of names, not a single string")
    names = [name.strip() for name in targets if name.strip()]
    if not names:
        raise ValueError("grounding_prompt needs at least one non-empty target name")
    return (
        "Locate every instance that belongs to the following categories: "
        f'"{", ".join(names)}". Report bbox coordinates in JSON format.'
    )


def _candidate_objects(value: Any) -> Iterator[dict]:
    """Objects carrying a box or point, found at any depth (wrappers are walked)."""
    if isinstance(value, dict):
        keys = {key.strip().lower() for key in value if isinstance(key, str)}
        has_geometry = any(key in keys for key in _BOX_KEYS + _POINT_KEYS)
        if has_geometry and not isinstance(value, PartialDict):
            yield value
            return
        # Cut-off objects are never detections themselves (their box or label may be
        # incomplete), but a cut-off wrapper may still hold complete ones.
        for member in value.values():
            yield from _candidate_objects(member)
    elif isinstance(value, list):
        for item in value:
            yield from _candidate_objects(item)


# --------------------------------------------------------------------------- geometry


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _numbers(values: Any, count: int) -> tuple[float, ...] | None:
    """Exactly ``count`` numbers from a list, or from a string such as "1, 2, 3, 4"."""
    if isinstance(values, str):
        values = _NUMBER.findall(values)
    if not isinstance(values, (list, tuple)) or len(values) != count:
        return None
    numbers = tuple(_to_number(v) for v in values)
    if any(n is None for n in numbers):
        return None
    return numbers  # type: ignore[return-value]


def _lowered(obj: dict) -> dict[str, Any]:
    return {key.strip().lower(): value for key, value in obj.items() if isinstance(key, str)}


def _raw_box(value: Any) -> tuple[float, float, float, float] | None:
    """Corner coordinates as the model wrote them (any order, model units)."""
    if isinstance(value, dict):
        return _raw_box_from_dict(_lowered(value))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        # [[x0, y0], [x1, y1]]
        corners = [_numbers(corner, 2) for corner in value]
        if corners[0] is None or corners[1] is None:
            return None
        return (*corners[0], *corners[1])  # type: ignore[return-value]
    return _numbers(value, 4)  # type: ignore[return-value]


def _raw_box_from_dict(fields: dict[str, Any]) -> tuple[float, float, float, float] | None:
    for keys in _CORNER_KEY_SETS:
        if all(key in fields for key in keys):
            return _numbers([fields[key] for key in keys], 4)  # type: ignore[return-value]
    for keys in _SIZE_KEY_SETS:
        if all(key in fields for key in keys):
            found = _numbers([fields[key] for key in keys], 4)
            if found is None:
                return None
            x, y, w, h = found
            return (x, y, x + w, y + h)
    return None


def _raw_point(value: Any) -> tuple[float, float] | None:
    if isinstance(value, dict):
        fields = _lowered(value)
        if "x" in fields and "y" in fields:
            return _numbers([fields["x"], fields["y"]], 2)  # type: ignore[return-value]
        return None
    return _numbers(value, 2)  # type: ignore[return-value]


class _Frame:
    """Converts model units to clamped pixel boxes for one image."""

    def __init__(self, width: int, height: int, coords: str) -> None:
        self.width = width
        self.height = height
        self.relative = coords == "relative"

    def _x(self, x: float) -> float:
        # Multiply before dividing: 120 * 640 / 1000 is exact where 120 * 0.64 is not.
        return x * self.width / RELATIVE_GRID if self.relative else x

    def _y(self, y: float) -> float:
        return y * self.height / RELATIVE_GRID if self.relative else y

    def box(self, raw: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
        ax, ay, bx, by = raw
        # Models sometimes give corners in the wrong order; the box is the same.
        x0, x1 = sorted((self._x(ax), self._x(bx)))
        y0, y1 = sorted((self._y(ay), self._y(by)))
        return self._clamped(x0, y0, x1, y1)

    def point_box(self, raw: tuple[float, float]) -> tuple[float, float, float, float] | None:
        x, y = self._x(raw[0]), self._y(raw[1])
        half = POINT_BOX_FRACTION * max(self.width, self.height)
        return self._clamped(x - half, y - half, x + half, y + half)

    def _clamped(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float] | None:
        x0, x1 = (min(max(v, 0.0), float(self.width)) for v in (x0, x1))
        y0, y1 = (min(max(v, 0.0), float(self.height)) for v in (y0, y1))
        if x1 <= x0 or y1 <= y0:
            return None  # nothing of it lies inside the image
        return (x0, y0, x1, y1)


def _first(fields: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in fields and fields[key] is not None:
            return fields[key]
    return None


def _label(fields: dict[str, Any]) -> str | None:
    for key in _LABEL_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _detection(obj: dict, frame: _Frame) -> Detection | None:
    fields = _lowered(obj)
    box = None
    raw_box = _first(fields, _BOX_KEYS)
    if raw_box is not None:
        corners = _raw_box(raw_box)
        box = frame.box(corners) if corners is not None else None
    else:
        # Only when there is no box at all; a broken box is not rescued by a point.
        raw_point = _first(fields, _POINT_KEYS)
        point = _raw_point(raw_point) if raw_point is not None else None
        box = frame.point_box(point) if point is not None else None
    if box is None:
        return None
    return Detection(label=_label(fields), box=box, score=_to_number(_first(fields, _SCORE_KEYS)))


def box_and_label(obj: dict) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """An answer object's box as the model wrote it (corners sorted, model units) and its label."""
    fields = _lowered(obj)
    raw = _first(fields, _BOX_KEYS)
    corners = _raw_box(raw) if raw is not None else None
    if corners is None:
        return None, _label(fields)
    ax, ay, bx, by = corners
    return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)), _label(fields)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 when either has no area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_label_key(label: str | None) -> str | None:
    """What two labels must share to be the same label (case and spaces around forgiven)."""
    return label.strip().casefold() if label is not None else None


def _without_duplicates(found: list[Detection]) -> tuple[list[Detection], int]:
    """``found`` less every box that repeats an earlier one of its label (IoU > DUPLICATE_IOU)."""
    kept: list[Detection] = []
    for detection in found:
        key = same_label_key(detection.label)
        if not any(same_label_key(k.label) == key and iou(k.box, detection.box) > DUPLICATE_IOU for k in kept):
            kept.append(detection)
    return kept, len(found) - len(kept)


# --------------------------------------------------------------------------- parsing


def _check_image_args(width: int, height: int, coords: str) -> None:
    if coords not in ("relative", "absolute"):
        raise ValueError(f'coords must be "relative" or "absolute", got {coords!r}')
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _detections_in(segments: list[str], frame: _Frame) -> list[Detection]:
    found = []
    for segment in segments:
        for value in json_values(segment):
            for obj in _candidate_objects(value):
                detection = _detection(obj, frame)
                if detection is not None:
                    found.append(detection)
    return found


@dataclass(frozen=True)
class ParsedAnswer:
    """An answer's detections, in the model's order, and how many repeated boxes were dropped."""

    detections: list[Detection]
    duplicates_dropped: int = 0


def parse_answer(raw: str, width: int, height: int, coords: str = "relative") -> ParsedAnswer:
    """Read the model's grounding answer into boxes in pixels of the original image.

    ``coords="relative"`` means the 0..1000 grid of Qwen3-VL; ``"absolute"`` means
    pixels (Qwen2.5-VL).  Boxes are clamped to the image; boxes with no area left,
    and objects that cannot be read, are dropped, and so is a box that repeats an earlier
    one of the same label (a model caught in a loop says the same boxes again and again).
    The model's order is kept. Raises ValueError only for bad arguments, never for the
    model's text.
    """
    _check_image_args(width, height, coords)
    if not isinstance(raw, str) or not raw.strip():
        return ParsedAnswer([])
    frame = _Frame(width, height, coords)
    inside, outside = fence_segments(raw)
    # Fenced blocks are what the model meant as its answer; prose outside them is
    # only read when the fences held nothing usable.
    found = _detections_in(inside, frame)
    kept, dropped = _without_duplicates(found if found else _detections_in(outside, frame))
    return ParsedAnswer(kept, dropped)


def parse_detections(raw: str, width: int, height: int, coords: str = "relative") -> list[Detection]:
    """``parse_answer``'s detections alone."""
    return parse_answer(raw, width, height, coords).detections
