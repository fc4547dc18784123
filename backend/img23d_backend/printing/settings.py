"""What the artist asks of a print, and its checks: each value out of range is one sentence, said before any
mesh is read. The same dataclass is what the add-on's Print Selected would send (docs/print.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

# Ranges, in millimetres. The tallest print a large-format printer makes is about a metre; a print under a
# millimetre has no shape a nozzle or a resin layer can hold.
HEIGHT_MM = (1.0, 1000.0)
WALL_MM = (0.4, 50.0)          # a nozzle's width, up to a wall thicker than most objects are
DRAIN_MM = (0.5, 30.0)
BASE_MM = (0.0, 50.0)
THIN_MM = (0.05, 20.0)
DRAIN_HOLES = (0, 8)


@dataclass(frozen=True)
class PrintSettings:
    height_mm: float                 # the height of ``object`` once printed (of the tallest, without one)
    object: str = ""                 # whose height that is, in a run of several: its name or file stem
    only: tuple[str, ...] = ()       # the objects to print (names or stems); none: every object of the run
    hollow: bool = False             # hollow with a wall of ``wall_mm`` and ``drain_holes`` holes
    wall_mm: float = 2.0
    drain_holes: int = 2
    drain_mm: float = 3.0            # the holes' diameter
    base_mm: float = 1.0             # cut off the bottom this much, for a flat base to stand on (0: none)
    thin_mm: float = 0.8             # walls thinner than this are reported (two lines of a 0.4 mm nozzle)

    def check(self) -> None:
        """Raise ``ProtocolError(bad_request)``, one sentence, for the first value out of range."""
        _within("--height-mm", self.height_mm, HEIGHT_MM, "the printed height")
        _within("--wall-mm", self.wall_mm, WALL_MM, "the hollow's wall")
        _within("--drain-mm", self.drain_mm, DRAIN_MM, "the drain holes' diameter")
        _within("--base-mm", self.base_mm, BASE_MM, "the slice cut off the bottom for a flat base")
        _within("--thin-mm", self.thin_mm, THIN_MM, "the wall thickness below which walls are reported")
        if not (isinstance(self.drain_holes, int) and DRAIN_HOLES[0] <= self.drain_holes <= DRAIN_HOLES[1]):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"--drain-holes {self.drain_holes!r} is out of range: it must "
                                                       f"be a whole number from {DRAIN_HOLES[0]} to {DRAIN_HOLES[1]}")
        if self.hollow and 2 * self.wall_mm >= self.height_mm:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"a {self.wall_mm:g} mm wall is thicker than half the {self.height_mm:g} mm object: "
                                "nothing would be left inside to hollow; give a thinner --wall-mm or print it solid")
        if self.base_mm >= self.height_mm / 2:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"--base-mm {self.base_mm:g} would cut off half the {self.height_mm:g} mm object or "
                                "more: give a smaller flat base")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["only"] = list(self.only)
        return data


def _within(flag: str, value: Any, limits: tuple[float, float], what: str) -> None:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{flag} {value!r} is not a number: give {what} in millimetres")
    if not low <= value <= high:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{flag} {value:.10g} is out of range: {what} must be from "
                                                   f"{low:g} to {high:g} mm")
