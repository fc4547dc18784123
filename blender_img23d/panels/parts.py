"""The panel's box for the selected mesh: how Split into Parts makes the parts (for AutoPartGen its licence,
where it is chosen, with its picture, mask, grid and limit), and rigging (Rig Selected, Pose Test, Skin to
Armature). draw() only."""

from __future__ import annotations

import bpy
import img23d_protocol as protocol

# Said where the model is chosen: its licence reaches what it makes (protocol.licences).
MODEL_LICENCE = protocol.model_licence("facebook/autopartgen")


def draw_parts(layout: bpy.types.UILayout, context: bpy.types.Context, enabled: bool) -> None:
    """The Parts field, the method and, for AutoPartGen, its inputs and licence; ``enabled`` when a mesh is
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
    if settings.parts_method != "MODEL":
        return
    draw_model_licence(box)
    box.prop(settings, "parts_picture")
    box.prop(settings, "parts_mask")
    row = box.row(align=True)
    row.prop(settings, "parts_grid")
    row.prop(settings, "parts_max")


def draw_model_licence(layout: bpy.types.UILayout) -> None:
    """AutoPartGen's licence in two lines, where the artist chooses it (Parts By, or Names with parts)."""
    if MODEL_LICENCE is not None:
        licence = MODEL_LICENCE.licence
        layout.label(text=f"Parts by AutoPartGen: {licence.name}:", icon="ERROR")
        layout.label(text=licence.non_commercial_words)
