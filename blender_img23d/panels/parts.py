"""The panel's box for the selected mesh: how Split into Parts makes the parts (for a parts model its licence,
where it is chosen, with its picture, mask, grid and limit), and rigging (Rig Selected, Pose Test, Skin to
Armature). draw() only."""

from __future__ import annotations

import bpy
import img23d_protocol as protocol

from .. import model_choices


def draw_parts(layout: bpy.types.UILayout, context: bpy.types.Context, enabled: bool) -> None:
    """The Parts field, the method and, for a parts model, its inputs and licence; ``enabled`` when a mesh is
    active and no job runs."""
    settings = context.scene.img23d
    box = layout.box()
    box.enabled = enabled
    row = box.row(align=True)
    row.prop(settings, "part_names", text="", icon="MOD_EXPLODE")
    row.operator("img23d.split_parts", text="Split into Parts")
    box.prop(settings, "parts_method", text="By")
    rig = box.row(align=True)
    rig.operator("img23d.rig_selected", icon="ARMATURE_DATA")
    rig.operator("img23d.pose_test", icon="POSE_HLT")
    row = box.row(align=True)
    row.prop(settings, "rig_weights", text="")
    row.prop(settings, "rig_humanoid_names")
    row = box.row(align=True)
    row.operator("img23d.skin_to_armature", text="Skin to Armature", icon="MOD_ARMATURE")
    model = model_choices.parts_model(settings.parts_method)
    if model is None:
        return
    draw_model_licence(box, model)
    box.prop(settings, "parts_picture")
    box.prop(settings, "parts_mask")
    row = box.row(align=True)
    row.prop(settings, "parts_grid")
    row.prop(settings, "parts_max")


def draw_model_licence(layout: bpy.types.UILayout, model: protocol.PartsModel) -> None:
    """A restricted parts model's licence, where the artist chooses it (Parts By, or Names with parts): it
    reaches what the model makes (protocol.licences)."""
    lines = model_choices.licence_lines(model)
    if lines:
        layout.label(text=lines[0], icon="ERROR")
    for line in lines[1:]:
        layout.label(text=line)
