"""``img23d.relayout``: stand a run's objects again for the panel's field of view and ground setting.

Nothing is generated: the positions come from what the run folder keeps (boxes, depth statistics,
the picture's size) through the same layout code as a job's, and only the objects' transforms and
the run's camera change. One undo step.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.props import StringProperty
from img23d_client import run_layout

from .. import finished_objects, part_objects, rig_objects, scene_import


class IMG23D_OT_relayout(bpy.types.Operator):
    """Place the active object's run again for the current Field of View and Ground settings,
    without generating anything (also moves the run's camera)"""

    bl_idname = "img23d.relayout"
    bl_label = "Re-layout"
    bl_options = {"REGISTER", "UNDO"}

    run_dir: StringProperty(  # type: ignore[valid-type]
        name="Run Folder", subtype="DIR_PATH", options={"SKIP_SAVE"},
        description="The run to lay out; empty: the run of the active object")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None and hasattr(context.scene, "img23d")

    def execute(self, context: bpy.types.Context) -> set[str]:
        run = self.run_dir or _run_of(part_objects.whole_of(context.active_object))  # a part: its whole's run
        if not run:
            self.report({"ERROR"}, "Select an object that img23d made (or give the run folder) to lay it out again")
            return {"CANCELLED"}
        try:
            manifest = run_layout.read_manifest(Path(bpy.path.abspath(run)))
        except run_layout.NotARun as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        choice = context.scene.img23d.layout_choice()
        scene_layout = run_layout.solve_run(manifest, choice)
        stems = run_layout.stems_by_target(manifest)
        members = [o for o in context.scene.objects if _same_folder(o.get(scene_import.PROP_PREFIX + "run"), run)]
        placed, cameras = [], []
        for obj in members:
            if obj.type == "CAMERA" and obj.get(scene_import.CAMERA_TAG):
                cameras.append(obj)
                continue
            key = stems.get((str(obj.get(scene_import.PROP_PREFIX + "target")),
                             int(obj.get(scene_import.PROP_PREFIX + "instance", 1))))
            if obj.get(scene_import.PROP_PREFIX + "candidate_of"):
                continue  # a candidate still to choose from stays in its row until it is kept
            if obj.type == "MESH" and key in scene_layout.anchors:
                before = obj.matrix_world.copy()
                scene_import.place(obj, scene_layout, key)
                finished_objects.follow(obj)
                part_objects.follow_whole(context.scene, obj)
                rig_objects.follow_mesh(obj, before)
                placed.append(obj.name)
        if not placed:  # the camera stays too: a cancelled operator leaves no undo step for a change
            self.report({"WARNING"}, f"No object of the run in {run} is in this scene to lay out (candidates stay "
                                     "in their row until one is kept)")
            return {"CANCELLED"}
        for camera in cameras:
            scene_import.set_camera(camera, scene_layout.camera)
        ground = "on one floor" if choice.ground else "without a floor"
        self.report({"INFO"}, f"Laid out {len(placed)} object(s) {ground} for a "
                              f"{scene_layout.camera.fov_degrees:g}\u00b0 field of view"
                              + ("" if cameras else " (the run has no camera here)"))
        return {"FINISHED"}


def _run_of(obj: bpy.types.Object | None) -> str:
    return str(obj.get(scene_import.PROP_PREFIX + "run", "")) if obj is not None else ""


def _same_folder(a: object, b: str) -> bool:
    if not isinstance(a, str) or not a:
        return False
    return os.path.realpath(bpy.path.abspath(a)) == os.path.realpath(bpy.path.abspath(b))


classes = (IMG23D_OT_relayout,)
