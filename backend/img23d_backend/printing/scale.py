"""From a mesh's own units to millimetres on the plate: the layout's placement, the artist's height, a flat base.

The layout (``img23d_protocol.layout``) stands each object with its bounds' bottom centre at ``location``, turned
by ``yaw`` about Z and scaled by ``scale`` (metres per mesh unit), in Blender's axes: exactly what the add-on does
on import (``scene_import.place``). The print does the same, so every object keeps the size it has beside the
others in the scene, then one factor for the whole plate turns metres into millimetres: the one that makes the
reference object (the one named, else the tallest) as tall as asked once its flat base is cut. Every object
then loses the same ``base_mm`` at its bottom, so their sizes stay as the layout made them, less that slice.
The placement as a matrix is ``layout.standing.world_matrix``.
"""

from __future__ import annotations

import math

from img23d_protocol import ErrorCode, ProtocolError
from img23d_protocol.prints import shown_name


def millimetres_per_unit(heights: dict[str, float], reference: str, height_mm: float, base_mm: float) -> float:
    """The plate's one factor: ``reference``'s world height made ``height_mm`` once ``base_mm`` is cut off."""
    world = heights[reference]
    if not world > 0 or not math.isfinite(world):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{reference} has no height to scale to {height_mm:g} mm")
    return (height_mm + base_mm) / world


def reference_of(names: list[str], stems: list[str], heights: dict[str, float], wanted: str) -> str:
    """The object whose height the artist gave: ``wanted`` (a name or stem), else the tallest. One sentence for
    a name the print has not (the name cut to ``shown_name``'s length: it may be anything typed)."""
    if not wanted:
        return max(heights, key=lambda name: heights[name])
    for name, stem in zip(names, stems):
        if wanted.strip().casefold() in (name.casefold(), stem.casefold()):
            if name not in heights:
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"--object {shown_name(wanted)}: that object could not be "
                                                           "read, so the others cannot be scaled to it")
            return name
    raise ProtocolError(ErrorCode.BAD_REQUEST, f"--object {shown_name(wanted)!r} is not among the printed objects "
                                               f"({', '.join(names)})")


def flat_base(solid: object, base_mm: float) -> object:
    """``solid`` with its bottom ``base_mm`` cut off (a flat face to stand on) and its base moved to Z = 0."""
    low_z = solid.bounding_box()[2]  # type: ignore[attr-defined]
    if base_mm > 0:
        solid = solid.trim_by_plane((0.0, 0.0, 1.0), low_z + base_mm)  # type: ignore[attr-defined]
        low_z += base_mm
    return solid.translate((0.0, 0.0, -low_z))  # type: ignore[attr-defined]
