"""What the artist asks of a print, and its checks: each value out of range is one sentence, said before any
mesh is read. The ranges are the protocol's (``img23d_protocol.prints``), so
the command line and the add-on's Print Selected refuse a value in the same words (docs/print.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from img23d_protocol import check_print_settings
from img23d_protocol.prints import DEFAULTS


def flag(name: str) -> str:
    """How the command line names a setting in a refusal: ``height_mm`` is ``--height-mm``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class PrintSettings:
    height_mm: float                 # the height of ``object`` once printed (of the tallest, without one)
    object: str = ""                 # whose height that is, in a run of several: its name or file stem
    only: tuple[str, ...] = ()       # the objects to print (names or stems); none: every object of the run
    hollow: bool = False             # hollow with a wall of ``wall_mm`` and ``drain_holes`` holes
    wall_mm: float = DEFAULTS["wall_mm"]
    drain_holes: int = DEFAULTS["drain_holes"]
    drain_mm: float = DEFAULTS["drain_mm"]   # the holes' diameter
    base_mm: float = DEFAULTS["base_mm"]     # cut off the bottom this much, for a flat base to stand on (0: none)
    thin_mm: float = DEFAULTS["thin_mm"]     # walls thinner are reported (0.8: two lines of a 0.4 mm nozzle)

    def check(self) -> None:
        """Raise ``ProtocolError(bad_request)``, one sentence, for the first value out of range (the protocol's
        ranges and checks: a print request from the add-on is refused in the same words, naming its fields)."""
        check_print_settings(self.to_dict(), flag)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["only"] = list(self.only)
        return data

