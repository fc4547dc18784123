"""``img23d.show_run_picture``: a run's pictures in an Image Editor with one click.

``layout.png`` (the top view of where the objects stand and the camera: the backend draws it in
every run folder that placed objects) and ``detections.png`` (the boxes found in the picture). The
run is the one named, else the active object's (its ``img23d_run``), else the last job's. The
picture opens in an Image Editor of this window, else in a new window turned into one; in
background mode it is only loaded (tests look it up in ``bpy.data.images``).
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from .. import runtime, scene_import

PICTURES = {"LAYOUT": ("layout.png", "img23d layout"), "DETECTIONS": ("detections.png", "img23d detections")}


def load_picture(run_dir: Path, picture: str) -> bpy.types.Image:
    """The run's picture as an image datablock named ``<label> <run>`` (reloaded if it was loaded
    before: a run drawn again, e.g. regenerated, shows its newest picture). ``FileNotFoundError``
    when the run has none; ``scene_import.ImportFailed`` when it is larger than img23d makes."""
    filename, label = PICTURES[picture]
    path = run_dir / filename
    if not path.is_file():
        raise FileNotFoundError(path)
    name = f"{label} {run_dir.name}"
    # Found by its file, not its name: a second run folder of the same name took "<name>.001", missed by name on
    # every press after, and each press made another image.
    image = next((i for i in bpy.data.images if i.source == "FILE" and i.filepath
                  and Path(bpy.path.abspath(i.filepath)) == path), None)
    if image is not None:
        scene_import.check_image(path)  # the file may have been written anew since
        image.reload()
        return image
    image = scene_import.load_image(path)
    image.name = name
    return image


def show_in_image_editor(context: bpy.types.Context, image: bpy.types.Image) -> bool:
    """Show ``image`` in an Image Editor of the window, else of a new window; False when there
    is no window (background mode)."""
    screen = context.screen
    if bpy.app.background or screen is None or context.window is None:
        return False
    for area in screen.areas:
        if area.type == "IMAGE_EDITOR":
            area.spaces.active.image = image
            return True
    if not bpy.ops.wm.window_new.poll():
        return False
    bpy.ops.wm.window_new()
    window = context.window_manager.windows[-1]
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    area.type = "IMAGE_EDITOR"
    area.spaces.active.image = image
    return True


class IMG23D_OT_show_run_picture(bpy.types.Operator):
    """Open the run's picture in an Image Editor: the layout seen from above, or the boxes found"""

    bl_idname = "img23d.show_run_picture"
    bl_label = "Show Run Picture"
    picture: EnumProperty(  # type: ignore[valid-type]
        name="Picture", default="LAYOUT",
        items=[("LAYOUT", "Layout", "Where the objects stand and the camera, seen from above (layout.png)"),
               ("DETECTIONS", "Detections", "The boxes found in the picture (detections.png)")])
    run_dir: StringProperty(name="Run Folder", subtype="DIR_PATH",  # type: ignore[valid-type]
                            description="Empty: the active object's run, else the last job's")

    def execute(self, context: bpy.types.Context) -> set[str]:
        run = Path(self.run_dir) if self.run_dir else runtime.current_run(context)
        if run is None:
            self.report({"ERROR"}, "No run yet: select an object img23d made, or run a job first")
            return {"CANCELLED"}
        try:
            image = load_picture(run, self.picture)
        except FileNotFoundError as exc:
            self.report({"ERROR"}, f"The run {run.name} has no {Path(str(exc)).name}")
            return {"CANCELLED"}
        except scene_import.ImportFailed as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not show_in_image_editor(context, image):
            self.report({"INFO"}, f"Loaded {image.name}")
        return {"FINISHED"}


classes = (IMG23D_OT_show_run_picture,)
