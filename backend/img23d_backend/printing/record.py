"""``print.json``: what a print made of each object and what its files were proved to be.

Written last, after every file was read back, into the print's own folder. Its ``format`` (1) says which img23d
can read it. Per object: its size in millimetres and volume, whether it is watertight, what was repaired, the
thinnest wall found, the hollow and its drain holes, its colour, its STL, each file's checks
(``checks.FileCheck``; a check that could not be made, as an object missing from the 3MF read back, is one that
failed, and the object is then not ``printed``), and the models that made it with their licences (``credits``, as
its GLB names them: the 3MF's metadata carries them, an STL has no place for them); one sentence where it could not
be printed. The settings are the artist's, as asked; ``notes`` are the sentences about the whole plate (one larger
than a common bed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from img23d_protocol import dumps

from .. import __version__

PRINT_RECORD = "print.json"
PRINT_FORMAT = 1


@dataclass
class HollowRecord:
    wall_mm: float
    hollow: bool                 # a hollow was made (too thin an object stays solid: ``note``)
    drained: bool
    holes: list[list[float]]     # each drain hole's centre (x, y), mm on the plate
    drain_mm: float
    note: str | None = None


@dataclass
class ObjectRecord:
    name: str
    stem: str
    source: str                              # the mesh it was made from (relative to the run, where in one)
    printed: bool = False
    refused: str | None = None               # why it was not printed: one sentence naming it
    size_mm: list[float] | None = None       # x, y, z on the plate
    asked_height_mm: float | None = None     # its height as the print scaled it (the reference's: as asked)
    volume_mm3: float | None = None
    watertight: bool = False
    repairs: list[str] = field(default_factory=list)
    rebuilt_cell_mm: float | None = None     # the grid's cell where it had to be rebuilt (detail finer is lost)
    bodies: int = 1                          # separate solids (loose bits beside it print on their own)
    thinnest_wall_mm: float | None = None    # over all but the thinnest 0.1 % of its surface (``thickness``)
    thinnest_ray_mm: float | None = None     # the single thinnest ray, and where it starts
    thinnest_at_mm: list[float] | None = None
    thin_share: float = 0.0                  # the share of its surface thinner than the settings' thin_mm
    hollow: HollowRecord | None = None
    colour: str | None = None                # "#RRGGBB", sRGB
    position_mm: list[float] | None = None   # its footprint's centre on the plate
    stl: str | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # the sentences said about it
    credits: list[dict[str, str]] = field(default_factory=list)   # ``gltf.made_by.ModelCredit`` of each model
    credits_note: str | None = None          # where the credits are carried (the 3MF), and that the STL has none
    seconds: float = 0.0


@dataclass
class PrintRecord:
    source: str                      # what was printed: a run folder or a mesh file
    settings: dict[str, Any]
    layout: str                      # where the places came from: relayout.json, manifest, boxes or none
    reference: str = ""              # the object whose height the settings give
    millimetres_per_metre: float | None = None   # the plate's one scale, for objects the layout placed
    threemf: str | None = None
    unit: str = "millimeter"
    plate: dict[str, Any] = field(default_factory=dict)
    objects: list[ObjectRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # sentences about the whole plate (larger than a common bed)
    format: int = PRINT_FORMAT
    backend_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def all_passed(self) -> bool:
        """Every check of every file passed (an object that failed one is not printed, so all of them count)."""
        return all(check.get("passed") for item in self.objects for check in item.checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return dumps(self.to_dict(), indent=2) + "\n"
