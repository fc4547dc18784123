"""``img23d.import_run``: bring a finished (or partly finished) run's meshes into the scene.

Nothing a job made is lost with Blender: any run folder can be imported again later, with
the same names, placement and custom properties as when it first arrived.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import bpy
import img23d_protocol as protocol
from bpy.props import StringProperty

from .. import scene_import


class IMG23D_OT_import_run(bpy.types.Operator):
    """Import the meshes of an img23d run folder (pick its manifest.json or the folder)"""

    bl_idname = "img23d.import_run"
    bl_label = "Import Run..."
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="manifest.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: object) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        path = Path(bpy.path.abspath(self.filepath))
        manifest_path = path / "manifest.json" if path.is_dir() else path
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            records = [r for r in manifest["records"] if r.get("status") == "done" and r.get("mesh")]
            image_size = manifest["image"]["original_size"]
            image_name = Path(manifest["image"]["source"]).stem
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.report({"ERROR"}, f"{manifest_path} is not an img23d run manifest ({exc})")
            return {"CANCELLED"}
        if manifest.get("status") != "running":  # no job writes there any more
            _remove_leftovers(manifest_path.parent)
        if not records:
            self.report({"WARNING"}, f"The run in {manifest_path.parent} has no finished meshes "
                                     f"(status: {manifest.get('status', '?')})")
            return {"CANCELLED"}
        holder: list[bpy.types.Collection] = []

        def collection() -> bpy.types.Collection:
            if not holder:
                holder.append(scene_import.run_collection(context.scene, image_name))
            return holder[0]

        made, failed = [], []
        models = {role: m.get("id", "") for role, m in manifest.get("models", {}).items()}
        for record in records:
            item = scene_import.TargetFile(
                path=manifest_path.parent / record["mesh"], target=record["target"], instance=record["instance"],
                box=record.get("box"), image_size=image_size, seed=record.get("seed"),
                run_dir=str(manifest_path.parent), models=models)
            try:
                made.append(scene_import.add_target(collection, item).name)
            except scene_import.ImportFailed as exc:
                failed.append(f"{record['target']}: {exc}")
        if failed:
            self.report({"WARNING"}, "Not imported: " + "; ".join(failed))
        if not made:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Imported {len(made)} object(s): {', '.join(made)}")
        return {"FINISHED"}


def _remove_leftovers(root: Path) -> None:
    """Delete what killed writes left in a closed run (``.tmp-*``) and its manifest's reserve, as
    the backend's recovery pass does; links are not followed. A file that will not go stays:
    the import does not depend on it."""
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            if name.startswith(protocol.RUN_TEMP_PREFIX) or name == protocol.RUN_RESERVE_NAME:
                try:
                    (Path(folder) / name).unlink()
                except OSError:
                    continue


classes = (IMG23D_OT_import_run,)
