"""The Print panel's settings, on ``scene.img23d.printing`` so they are saved with the .blend.

Sizes are plain numbers of millimetres, not Blender lengths: a length property would show and store them in
the scene's units (inches, or a unit scale of 0.001), and the print is asked in millimetres whatever the scene
says. Their hard limits are wide on purpose: a value out of the print's range is refused in one sentence when
Print is pressed (``print_meshes.settings_of``), where a clamp would print another size without a word.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty

import img23d_protocol as protocol

_HEIGHT, _WALL = protocol.PRINT_NUMBERS["height_mm"][0], protocol.PRINT_NUMBERS["wall_mm"][0]


class Img23dPrint(bpy.types.PropertyGroup):
    height_mm: FloatProperty(  # type: ignore[valid-type]
        name="Height (mm)", default=80.0, min=-1e6, max=1e6, soft_min=_HEIGHT[0], soft_max=_HEIGHT[1], precision=1,
        description="The printed height in millimetres of the object named in Of (of the tallest without one); "
                    "the others keep their sizes beside it. Millimetres whatever the scene's units")
    object: StringProperty(  # type: ignore[valid-type]
        name="Of", default="",
        description="The object whose height Height gives; empty: the tallest object printed")
    hollow: BoolProperty(  # type: ignore[valid-type]
        name="Hollow", default=False,
        description="Hollow each object to a wall of Wall with drain holes (for resin; a filament slicer fills "
                    "the inside with its own infill)")
    wall_mm: FloatProperty(  # type: ignore[valid-type]
        name="Wall (mm)", default=protocol.PrintRequest.wall_mm, min=-1e6, max=1e6, soft_min=_WALL[0],
        soft_max=_WALL[1], precision=1, description="The hollow's wall thickness in millimetres")
    drain_holes: IntProperty(  # type: ignore[valid-type]
        name="Drain Holes", default=protocol.PrintRequest.drain_holes, min=-100, max=100, soft_min=0, soft_max=8,
        description="Holes up through the base into the hollow, so liquid resin can drain")
    base_mm: FloatProperty(  # type: ignore[valid-type]
        name="Base (mm)", default=protocol.PrintRequest.base_mm, min=-1e6, max=1e6, soft_min=0.0, soft_max=50.0,
        precision=1, description="Cut this much off each object's bottom for a flat base to stand on (0: none)")


classes = (Img23dPrint,)
