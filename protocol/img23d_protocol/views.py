"""(1.19) More pictures of one object: its views from the left, the back and the right.

A Generate request may carry ``views``: ``{name: {side: picture}}``; a Re-texture request ``{side:
picture}``. The front is always the job's own picture. Pictures travel as paths, as ``image`` does
(a backend on another machine gets them uploaded first).

The sides, once for everything img23d does (the shape model's conditioning, the projection onto
the texture, the guide's sketch): a side names the side of the object the picture shows, as the
object faces the front picture's camera. ``left`` is a picture of the object's own left side, which
the front picture shows at its right; its camera stands at the object's left. In Blender's axes the
object faces -Y (the front camera stands at -Y, looking +Y, as Re-texture's front has always been):
the left camera stands at +X looking -X, the back camera at +Y, the right camera at -X.
``SIDE_AZIMUTH_DEGREES`` gives each camera's place around the object seen from above (+Z),
counter-clockwise from -Y. Hunyuan3D-2mv's image processor takes the same four names
(``view2idx``: front 0, left 1, back 2, right 3).
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ErrorCode, ProtocolError
from .names import MAX_TARGETS, by_name_items

FRONT = "front"
SIDES: tuple[str, ...] = ("left", "back", "right")  # the sides a view may show; the front is the job's picture
SIDE_AZIMUTH_DEGREES: dict[str, float] = {FRONT: 0.0, "left": 90.0, "back": 180.0, "right": 270.0}
MAX_PATH_CHARS = 4096  # a view's path, as a file system takes it
# Said where views are given with the clean family chosen (the command line, a job's result, the panel):
# no openly licensed multi-view shape model exists, and Step1X-3D's single-view model is not fed several.
CLEAN_FAMILY_VIEWS = ("the clean family (Step1X-3D) has no multi-view shape model: its shapes are made from the "
                      "front picture alone; the views still colour the texture and help completion")


def camera_direction(side: str) -> tuple[float, float, float]:
    """The unit vector from the object toward ``side``'s camera, in Blender's axes (Z up)."""
    azimuth = math.radians(SIDE_AZIMUTH_DEGREES[side])
    return (round(math.sin(azimuth), 12), round(-math.cos(azimuth), 12), 0.0)


def validate_side_views(views: Any, owner: str = "the mesh") -> dict[str, str]:
    """``{side: path}`` with known sides and non-empty paths; else one ``bad_request`` sentence."""
    if views is None:
        return {}
    if not isinstance(views, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the views of {owner} must be an object of side: picture")
    checked: dict[str, str] = {}
    for side, path in views.items():
        side = side.strip().casefold() if isinstance(side, str) else side
        if side == FRONT:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"a view of {owner} is named 'front': the front is the job's "
                                                       f"own picture; views are {', '.join(SIDES)}")
        if side not in SIDES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"a view of {owner} names the side {side!r}: sides are "
                                                       f"{', '.join(SIDES)}")
        if side in checked:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{owner} has two {side} views: give one picture a side")
        if not isinstance(path, str) or not path.strip() or len(path) > MAX_PATH_CHARS or "\x00" in path:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the {side} view of {owner} must be a picture's path")
        checked[side] = path
    return checked


def validate_views(views: Any) -> dict[str, dict[str, str]]:
    """A Generate request's ``{name: {side: path}}``; else one ``bad_request`` sentence."""
    checked: dict[str, dict[str, str]] = {}
    for name, sides in by_name_items(views, form="views must be an object of name: {side: picture}",
                                     too_many=f"at most {MAX_TARGETS} names may have views, got {{count}}",
                                     nameless="views need the name they are of"):
        if name.casefold() in {known.casefold() for known in checked}:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the views of {name!r} are given twice")
        checked[name] = validate_side_views(sides, repr(name))
    return checked


def check_views(views: dict[str, dict[str, str]], targets: list[str]) -> None:
    """Each name with views is one of the job's names (ignoring case); else one ``bad_request`` sentence."""
    known = {target.casefold() for target in targets}
    for name in views:
        if name.casefold() not in known:
            listed = ", ".join(targets) if targets else "none: the whole picture is one object"
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"there are views of {name!r}, which is not one of the names "
                                                       f"({listed}): add the name or remove its views")


def views_for(views: dict[str, dict[str, str]], name: str) -> dict[str, str]:
    """The views given for ``name`` (ignoring case), in ``SIDES`` order; empty when it has none."""
    folded = name.casefold()
    given = next((sides for key, sides in views.items() if key.casefold() == folded), {})
    return {side: given[side] for side in SIDES if side in given}
