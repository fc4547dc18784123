"""``img23d.import_run``: bring a finished (or partly finished) run's meshes into the scene.

Nothing a job made is lost with Blender: any run folder can be imported again later, with
the same names, placement, camera and custom properties as when it first arrived (laid out for
the panel's field of view and ground setting, as a live job is for the ones it was sent with).

What killed writes left in the folder goes first (``img23d_client.leftovers``): in a closed run,
every temporary file and the manifest's reserve; in a folder of the Runs Folder whose manifest never
came (Blender killed mid-transfer), the temporary files no write has touched for a while.

Every file of the run is charged to one account of the bytes Blender will hold of its images
(``texture_guard.RunBudget``; Import Run from Host comes here too): the objects that fit are
imported, in the manifest's order, and those past the budget are left out, named in one sentence.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import StringProperty
import img23d_protocol as protocol
from img23d_client import run_layout, texture_guard
from img23d_client.leftovers import remove_leftovers

from .. import finished_objects, held, part_objects, preferences, scene_import


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
        run_dir = path if path.is_dir() else path.parent
        try:
            manifest = run_layout.read_manifest(path)
        except run_layout.NotARun as exc:
            if not (run_dir / protocol.MANIFEST_NAME).exists() and _in_runs_folder(context, run_dir):
                remove_leftovers(run_dir)  # a transfer killed before the manifest came; only what nothing writes
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        records, image_size = manifest.done, list(manifest.original_size or ())
        image_name = Path(manifest.image_source).stem or run_dir.name
        if manifest.status != "running":  # no job writes there any more
            remove_leftovers(run_dir, reserve=True, settled=0.0)
        if not records:
            self.report({"WARNING"}, f"The run in {run_dir} has no finished meshes "
                                     f"(status: {manifest.status or '?'})")
            return {"CANCELLED"}
        scene_layout = run_layout.solve_run(manifest, context.scene.img23d.layout_choice())
        holder: list[bpy.types.Collection] = []

        def collection() -> bpy.types.Collection:
            if not holder:
                holder.append(scene_import.run_collection(context.scene, image_name))
            return holder[0]

        made, failed, notes, left_out = [], [], [], []
        kept: list[held.Held] = []
        budget = texture_guard.RunBudget()
        models = manifest.model_ids
        for record in records:
            try:
                mesh = run_layout.record_mesh(run_dir, record.mesh)  # never a file outside the run
            except run_layout.NotARun as exc:
                failed.append(f"{record.target}: {exc}")
                continue
            item = scene_import.TargetFile(
                path=mesh, target=record.target, instance=record.instance,
                box=record.box, image_size=image_size, seed=record.seed,
                run_dir=str(run_dir), models=models, key=record.stem,
                variation=_variation(record) if manifest.with_variations else 0, anchor=record.anchor)
            try:
                obj = scene_import.add_target(collection, item, scene_layout, notes, budget)
            except scene_import.OverBudget:
                left_out.append(record.target)
                continue
            except scene_import.ImportFailed as exc:
                failed.append(f"{record.target}: {exc}")
                continue
            made.append(obj.name)
            kept.append(held.hold(obj))
            failed += _add_high_mesh(obj, run_dir, mesh, budget, left_out)
        # Its objects made in parts too ("house (chimney, door)"), as the live Generate placed them: they were lost.
        part_objects.place_generated_parts(kept, records, str(run_dir), notes)
        if failed:
            self.report({"WARNING"}, "Not imported: " + "; ".join(failed))
        if left_out:
            self.report({"WARNING"}, budget.left_out(left_out))
        for note in dict.fromkeys(notes):
            self.report({"WARNING"}, note)
        if not made:
            return {"CANCELLED"}
        if scene_layout is not None:
            scene_import.ensure_camera(context.scene, holder[0], scene_layout.camera, str(run_dir),
                                       f"{image_name} camera")
        self.report({"INFO"}, f"Imported {len(made)} object(s): {', '.join(made)}")
        return {"FINISHED"}


def _add_high_mesh(low: bpy.types.Object, run_dir: Path, mesh: Path, budget: texture_guard.RunBudget,
                   left_out: list[str]) -> list[str]:
    """A finished object's generated mesh (``high/<stem>.glb`` in its run, docs/game-ready.md),
    hidden beside it; what failed, as "name: why" (none when the run kept no high mesh). Past the
    run's ``budget`` its name goes to ``left_out``."""
    try:
        high = run_layout.record_mesh(run_dir, f"high/{mesh.name}")
    except run_layout.NotARun as exc:
        return [f"{low.name} (high): {exc}"]
    if not high.is_file():
        return []
    try:
        finished_objects.add_high_mesh(low, high, budget)
    except scene_import.OverBudget:
        left_out.append(f"{low.name} (high)")
    except scene_import.ImportFailed as exc:
        return [f"{low.name} (high): {exc}"]
    return []


def _variation(record: protocol.TargetRecord) -> int:
    """Its candidate's number among its target's variations (1..8), or 0 when it is none."""
    return record.variation if 0 < record.variation <= 8 else 0


def _in_runs_folder(context: bpy.types.Context, folder: Path) -> bool:
    """Whether ``folder`` is a run folder of the Runs Folder, where only img23d writes: a folder
    picked elsewhere is never cleaned, whatever its files are called."""
    runs = preferences.get(context).launch_settings().runs_dir
    try:
        return folder.resolve().parent == runs.resolve()
    except OSError:
        return False


classes = (IMG23D_OT_import_run,)
