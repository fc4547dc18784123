"""The artist's boxes: a name's box in pixels of the picture, filled by Detect, corrected by hand.

Generate sends the boxes in use (``GenerateRequest.boxes``): those names skip grounding. Editing a
box's numbers puts it in use; a box Detect found and the artist left alone stays out of use, since
grounding would find it again anyway.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, IntProperty


def _in_use(box: "Img23dBox", context: bpy.types.Context) -> None:
    box.use = True  # the artist changed it: Generate must take it rather than look again


class Img23dBox(bpy.types.PropertyGroup):
    # ``name`` (the target's name) comes with every PropertyGroup.
    use: BoolProperty(  # type: ignore[valid-type]
        name="Use", default=False,
        description="Generate uses this box for its name instead of looking for it (set by editing the box)")
    x0: IntProperty(name="Left", min=0, update=_in_use)  # type: ignore[valid-type]
    y0: IntProperty(name="Top", min=0, update=_in_use)  # type: ignore[valid-type]
    x1: IntProperty(name="Right", min=0, update=_in_use)  # type: ignore[valid-type]
    y1: IntProperty(name="Bottom", min=0, update=_in_use)  # type: ignore[valid-type]
    found: BoolProperty(name="Found", default=False, options={"HIDDEN"})  # type: ignore[valid-type]
    complete: BoolProperty(  # type: ignore[valid-type]
        name="Complete", default=True,
        description="Complete Hidden may complete this name (off: it stays as the picture shows it)")

    def corners(self) -> list[float]:
        return [float(self.x0), float(self.y0), float(self.x1), float(self.y1)]


def fill_from_detect(boxes: Any, names: list[str], found: dict[str, Any]) -> None:
    """After Detect: one box per name, the model's first (largest) where it found one, an empty one
    to draw where it did not; none in use. Values from the backend are checked, not trusted."""
    boxes.clear()
    for name in names:
        box = boxes.add()
        box.name = name
        candidates = found.get(name) if isinstance(found, dict) else None
        first = candidates[0] if isinstance(candidates, list) and candidates else None
        if isinstance(first, list) and len(first) == 4 and all(isinstance(v, (int, float)) for v in first):
            box.x0, box.y0, box.x1, box.y1 = (max(0, round(v)) for v in first)
            box.found = True
        box.use = False  # set after the numbers: filling them is not the artist editing them


def boxes_in_use(boxes: Any) -> dict[str, list[float]]:
    return {box.name: box.corners() for box in boxes if box.use}


def completion_off(boxes: Any, names: list[str]) -> list[str]:
    """The names of the job whose Complete the artist turned off (``GenerateRequest.completion_off``)."""
    known = {name.casefold() for name in names}
    return [box.name for box in boxes if not box.complete and box.name.casefold() in known]


classes = (Img23dBox,)
