"""The add-on's entries in the 3D viewport's Object menu and the object context menu: what it does to
the selected object (Split Selected into Parts, Rig Selected, Skin to Selected Armature, Pose Test, Export
Gaussian Splat), one entry function for both
menus, added when the add-on is enabled and taken away when it is disabled."""

from __future__ import annotations

import bpy

from .parts import IMG23D_OT_split_parts
from .rig import IMG23D_OT_pose_test, IMG23D_OT_rig_selected, IMG23D_OT_skin_to_armature
from .splats import IMG23D_OT_export_splats

MENUS = ("VIEW3D_MT_object", "VIEW3D_MT_object_context_menu")


def _entries(menu: bpy.types.Menu, context: bpy.types.Context) -> None:
    menu.layout.separator()
    menu.layout.operator(IMG23D_OT_split_parts.bl_idname, icon="MOD_EXPLODE")
    menu.layout.operator(IMG23D_OT_rig_selected.bl_idname, icon="ARMATURE_DATA")
    menu.layout.operator(IMG23D_OT_skin_to_armature.bl_idname, icon="MOD_ARMATURE")
    menu.layout.operator(IMG23D_OT_pose_test.bl_idname, icon="POSE_HLT")
    menu.layout.operator(IMG23D_OT_export_splats.bl_idname, icon="EXPORT")


def register_menus() -> None:
    for name in MENUS:
        getattr(bpy.types, name).append(_entries)


def unregister_menus() -> None:
    for name in MENUS:
        getattr(bpy.types, name).remove(_entries)
