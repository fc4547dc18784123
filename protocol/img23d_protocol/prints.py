"""Print (issue 90): what the add-on's Print Selected asks (``PrintRequest``) and what the print job answers
(``PrintJobResult``), with the print's ranges and checks, which the backend's command line uses too.

A print request prints either ``source`` as the command line's ``print RUN_OR_MESH`` does (a run folder, its
objects in the places its layout gave them, ``only`` some of them; or one mesh file), or ``meshes``: the scene's
objects as they stand in Blender, each a mesh file the add-on wrote in world space (Blender's axes and units,
every modifier, move, turn and scale applied), so what was moved or scaled there prints as it is. With
``meshes``, ``source`` (optional) is the run folder the objects came from: the print's folder goes inside it;
without it the backend makes a run folder of its own. Sizes are millimetres, given as plain numbers: nothing
here depends on a Blender scene's units, so neither does the print.

Everything in a request came from another process: every number is checked against its range, every name as a
name, on arrival (``check_print_request``), one sentence each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from .errors import ErrorCode, ProtocolError
from .limits import MAX_PRINT_OBJECTS
from .messages import Request
from .names import validate_targets
from .result_fields import MAX_TEXT, flag, items, names, number, numbers, refuse, text, whole
from .results import RunJobResult

# Ranges, in millimetres. The tallest print a large-format printer makes is about a metre; a print under a
# millimetre has no shape a nozzle or a resin layer can hold.
HEIGHT_MM = (1.0, 1000.0)
WALL_MM = (0.4, 50.0)          # a nozzle's width, up to a wall thicker than most objects are
DRAIN_MM = (0.5, 30.0)
BASE_MM = (0.0, 50.0)
THIN_MM = (0.05, 20.0)
DRAIN_HOLES = (0, 8)
SHOWN_NAME_CHARS = 80          # a name echoed in a refusal is cut to this many characters

# Each number's range and how its sentence names it, in the order they are checked.
PRINT_NUMBERS: dict[str, tuple[tuple[float, float], str]] = {
    "height_mm": (HEIGHT_MM, "the printed height"),
    "wall_mm": (WALL_MM, "the hollow's wall"),
    "drain_mm": (DRAIN_MM, "the drain holes' diameter"),
    "base_mm": (BASE_MM, "the slice cut off the bottom for a flat base"),
    "thin_mm": (THIN_MM, "the wall thickness below which walls are reported"),
}
DEFAULTS: dict[str, Any] = {"wall_mm": 2.0, "drain_holes": 2, "drain_mm": 3.0, "base_mm": 1.0, "thin_mm": 0.8}
# A print request's settings (all but what to print), in the order a print's ``print.json`` records them.
PRINT_SETTINGS = ("height_mm", "object", "only", "hollow", "wall_mm", "drain_holes", "drain_mm", "base_mm", "thin_mm")

Label = Callable[[str], str]


def wire_label(name: str) -> str:
    """How a refusal names a field on the wire: by its own name (the command line says ``--height-mm``)."""
    return name


def check_print_settings(values: Mapping[str, Any], label: Label = wire_label) -> None:
    """``bad_request``, one sentence, for the first of a print's settings out of range (``values``: height_mm,
    wall_mm, drain_holes, drain_mm, base_mm, thin_mm, hollow), each named by ``label``."""
    for name, (limits, what) in PRINT_NUMBERS.items():
        _within(label(name), values[name], limits, what)
    holes = values["drain_holes"]
    if isinstance(holes, bool) or not isinstance(holes, int) or not DRAIN_HOLES[0] <= holes <= DRAIN_HOLES[1]:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{label('drain_holes')} {holes!r:.40} is out of range: it must "
                                                   f"be a whole number from {DRAIN_HOLES[0]} to {DRAIN_HOLES[1]}")
    height, wall, base = values["height_mm"], values["wall_mm"], values["base_mm"]
    if values["hollow"] and 2 * wall >= height:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"a {wall:g} mm wall is thicker than half the {height:g} mm object: nothing would be "
                            f"left inside to hollow; give a thinner {label('wall_mm')} or print it solid")
    if base >= height / 2 and base == DEFAULTS["base_mm"]:
        # The base is the default, most likely not given at all: the height is what the artist typed, so the
        # sentence is about the height, and says the least one the default allows.
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"{label('height_mm')} {height:g} is too low for the default {base:g} mm flat base cut off "
                            f"the bottom: give {label('height_mm')} more than {2 * base:g} mm, or a smaller "
                            f"{label('base_mm')} (0: none)")
    if base >= height / 2:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{label('base_mm')} {base:g} would cut off half the {height:g} mm "
                                                   f"object or more: give a smaller flat base (under {height / 2:g} "
                                                   f"mm), or {label('height_mm')} more than {2 * base:g} mm")


def shown_name(name: str, most: int = SHOWN_NAME_CHARS) -> str:
    """``name`` as a refusal echoes it: whole up to ``most`` characters, else cut there with an ellipsis (a
    10,000-character ``--object`` is not a sentence)."""
    return name if len(name) <= most else name[:most - 1] + "…"


def _within(shown: str, value: Any, limits: tuple[float, float], what: str) -> None:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{shown} {value!r:.40} is not a number: give {what} in "
                                                   "millimetres")
    if not low <= value <= high:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{shown} {value:.10g} is out of range: {what} must be from "
                                                   f"{low:g} to {high:g} mm")


@dataclass
class PrintRequest(Request):
    """(1.28) Print ``source`` (a run folder or a mesh file on the backend) or ``meshes`` (the scene's objects,
    name -> the add-on's world-space mesh file) as one plate, ``object`` (else the tallest) ``height_mm`` tall.

    The one print request: the add-on's Print Selected sends it, the command line's ``print`` builds it from its
    flags, and the backend's ``printing.request.make_print`` reads its settings from it, so no setting is copied
    into a second class on the way."""

    TYPE: ClassVar[str] = "print"
    source: str = ""
    meshes: dict[str, str] = field(default_factory=dict)
    only: list[str] = field(default_factory=list)     # with a run as ``source``: its objects to print
    object: str = ""                                  # whose height ``height_mm`` is: a name (or a run's stem)
    height_mm: float = 0.0
    hollow: bool = False
    wall_mm: float = DEFAULTS["wall_mm"]
    drain_holes: int = DEFAULTS["drain_holes"]
    drain_mm: float = DEFAULTS["drain_mm"]
    base_mm: float = DEFAULTS["base_mm"]
    thin_mm: float = DEFAULTS["thin_mm"]

    def settings(self) -> dict[str, Any]:
        """What the print was asked, as ``print.json`` keeps it (``PRINT_SETTINGS``, in that order), and as
        ``check_print_settings`` reads it."""
        return {name: list(self.only) if name == "only" else getattr(self, name) for name in PRINT_SETTINGS}


def check_print_request(request: PrintRequest) -> PrintRequest:
    """``request`` with its names normalised, or ``bad_request`` in one sentence: a number out of range, a
    name that is no name, a path that is no string, neither or both of ``source`` and ``meshes``, ``only``
    without a run, an ``object`` that is none of ``meshes``."""
    for name in ("source", "object"):
        value = getattr(request, name)
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} must be a string of at most {MAX_TEXT} characters")
    if not isinstance(request.hollow, bool):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "hollow must be true or false")
    check_print_settings(request.settings())
    meshes = request.meshes
    if not isinstance(meshes, dict) or not all(isinstance(path, str) and path and len(path) <= MAX_TEXT
                                               for path in meshes.values()):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "meshes must be an object of names and mesh file paths")
    if len(meshes) > MAX_PRINT_OBJECTS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"at most {MAX_PRINT_OBJECTS} objects per print, got {len(meshes)}")
    # One name at a time: Blender tells "Cube" and "cube" apart, so two names may differ in case alone.
    kept = [_name(name) for name in meshes]
    request.meshes = dict(zip(kept, meshes.values()))
    if not isinstance(request.only, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "only must be a list of the run's object names")
    request.only = validate_targets(request.only, MAX_PRINT_OBJECTS, looked_for=False)
    if request.object:
        request.object = _name(request.object)
    if not request.source and not meshes:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a print needs what to print: a run folder or mesh file "
                                                   "(source), or the scene's objects (meshes)")
    if meshes and request.only:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "only picks objects of a run folder; the scene's objects "
                                                   "(meshes) are each printed")
    if meshes and request.object and request.object.casefold() not in {name.casefold() for name in kept}:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"object {shown_name(request.object)!r} is not among the printed "
                                                   f"objects ({', '.join(kept)})")
    return request


def _name(name: Any) -> str:
    """One object's name, checked as a target's (text, not empty, no control or invisible characters)."""
    return validate_targets([name], looked_for=False)[0]


@dataclass(frozen=True)
class PrintedObject:
    """One object of a print as its ``print.json`` records it: printed or why not, its size and its STL."""

    name: str
    printed: bool = False
    refused: str | None = None           # why it was not printed: one sentence naming it
    size_mm: list[float] | None = None   # x, y, z on the plate
    watertight: bool = False
    volume_mm3: float | None = None
    stl: str | None = None               # its STL's name in the print's folder

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "printed": self.printed, "refused": self.refused,
                "size_mm": None if self.size_mm is None else list(self.size_mm), "watertight": self.watertight,
                "volume_mm3": self.volume_mm3, "stl": self.stl}

    @classmethod
    def from_dict(cls, data: Any, what: str) -> "PrintedObject":
        data = whole(what, data, "has an object that is not an object")
        size = numbers(data, what, "size_mm", None)
        if size is not None and len(size) != 3:
            raise refuse(what, "size_mm", "is not three numbers")
        volume = number(data, what, "volume_mm3", None, whole_number=False)
        return cls(name=text(data, what, "name"), printed=flag(data, what, "printed"),
                   refused=text(data, what, "refused", None), size_mm=None if size is None else list(size),
                   watertight=flag(data, what, "watertight"), volume_mm3=volume, stl=text(data, what, "stl", None))


@dataclass(frozen=True)
class PrintJobResult(RunJobResult):
    """The run the print is in (``run_dir``), the print's own folder in it, its 3MF (in millimetres) and
    ``print.json``, each object's record, and the sentences said (one per object not printed, per note, per
    failed check); ``passed``: every printed object's files read back and passed their checks."""

    KIND: ClassVar[str] = "print"
    folder: str = ""
    threemf: str | None = None
    record: str = ""
    objects: tuple[PrintedObject, ...] = ()
    said: list[str] = field(default_factory=list)
    passed: bool = False

    @property
    def refused(self) -> list[PrintedObject]:
        return [item for item in self.objects if not item.printed]

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "folder": self.folder, "threemf": self.threemf, "record": self.record,
                "objects": [item.to_dict() for item in self.objects], "said": list(self.said), "passed": self.passed}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        objects = tuple(PrintedObject.from_dict(entry, what) for entry in items(data, what, "objects"))
        return dict(run_dir=text(data, what, "run_dir"), folder=text(data, what, "folder"),
                    threemf=text(data, what, "threemf", None), record=text(data, what, "record"), objects=objects,
                    said=names(data, what, "said"), passed=flag(data, what, "passed"))
