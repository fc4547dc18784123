"""One part as a parts job's ``parts.json`` tells it, for each way of making parts: what every part has
(``PartRecord``: its name, its GLB, faces, area, whether it is closed), and what only one way knows: a part cut
from the artist's mesh by name (``CutPart``: the caps that close its cuts, what was left open, on how many
renders its name was found, why it is empty) or a part a parts model drew (``DrawnPart``: the faces it was
decoded with before the face budget, and why its decoding stopped short). A way records none of the other's
facts, rather than zeros that read as measured."""

from __future__ import annotations

from dataclasses import dataclass

from img23d_protocol import PartResult


@dataclass
class PartRecord:
    """What every part has."""

    name: str
    mesh: str | None            # its GLB, relative to the run folder; None for an empty part
    faces: int                  # faces it holds (a cut part: the input's, before its caps; a drawn part: as written)
    area: float                 # its faces' area (the input's units squared)
    closed: bool                # watertight: every edge joins two of its faces, wound opposite ways

    def result(self) -> PartResult:
        return PartResult(name=self.name, mesh=self.mesh, faces=self.faces, closed=self.closed)


@dataclass
class CutPart(PartRecord):
    """A part cut from the artist's mesh by name (``split``)."""

    cap_faces: int = 0                  # triangles added to close its cuts
    open_cuts: int = 0                  # runs of its cuts' outlines left open (0 for a part no cut made)
    found_on: int = 0                   # renders on which grounding found the name
    empty_reason: str | None = None
    open_edges: int = 0                 # edges its cuts left open
    input_open_edges: int = 0           # edges of the input's own holes it holds, left as they were

    def result(self) -> PartResult:
        return PartResult(name=self.name, mesh=self.mesh, faces=self.faces, cap_faces=self.cap_faces,
                          closed=self.closed, empty_reason=self.empty_reason)


@dataclass
class DrawnPart(PartRecord):
    """A part a parts model drew (``driver``)."""

    decoded_faces: int = 0      # faces the model's surface had, before the job's face budget simplified it
    decoding: str = ""          # why its decoding stopped short of the asked grid; empty when it did not

