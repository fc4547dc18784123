"""``img23d.regenerate``: a new mesh for each selected object img23d made, swapped in place.

The backend makes the new meshes from the object's own run (its cut-out, box and depth: no
grounding, matting or depth again) with the panel's settings and, by default, a new seed; each
arrives in the same object: same name, transform, collection, parent and modifiers, new mesh
data. The run folder keeps both versions (the new ones under ``regenerated/``); one undo step
brings the old meshes back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bpy
import img23d_protocol as protocol
from bpy.props import BoolProperty
from img23d_client import run_layout

from .. import finished_objects, held, runtime, scene_import
from ..job_runner import JobRunner, Outcome
from . import _inputs
from ._job import JobOperatorMixin

TAG = scene_import.PROP_PREFIX


def chosen_objects(context: bpy.types.Context) -> tuple[str, dict[str, held.Held]]:
    """The selected objects' run folder and {stem in the run: the object}; ``InputError`` says
    in one sentence why there is nothing to regenerate."""
    objects = [o for o in (context.selected_objects or []) if o.type == "MESH"]
    if not objects:
        raise _inputs.InputError("Select the objects to regenerate: meshes that Generate made")
    foreign = [o.name for o in objects if not o.get(TAG + "run")]
    if foreign:
        raise _inputs.InputError(f"'{foreign[0]}' was not made by img23d: Regenerate works on objects Generate made")
    runs = {os.path.realpath(bpy.path.abspath(str(o[TAG + "run"]))) for o in objects}
    if len(runs) > 1:
        raise _inputs.InputError(f"The selected objects come from {len(runs)} runs: regenerate one run's "
                                 "objects at a time")
    [run] = runs
    if not Path(run).is_dir():
        raise _inputs.InputError(f"The run folder of '{objects[0].name}' is gone ({run}): it cannot be regenerated")
    try:
        manifest = run_layout.read_manifest(Path(run))
    except run_layout.NotARun as exc:
        raise _inputs.InputError(f"'{objects[0].name}' cannot be regenerated: {exc}") from exc
    stems = run_layout.stems_by_target(manifest)
    keys: dict[str, held.Held] = {}
    for obj in objects:
        key = obj.get(TAG + "key") or stems.get((str(obj.get(TAG + "target")), int(obj.get(TAG + "instance", 1))))
        if not key:
            raise _inputs.InputError(f"'{obj.name}' is not in its run's manifest ({run}): it cannot be regenerated")
        if str(key) in keys:  # a copy (Shift+D, or the run imported twice): one of them was regenerated, silently
            raise _inputs.InputError(f"'{keys[str(key)].name}' and '{obj.name}' are the same object of the run (one "
                                     "is a copy): select one of them to regenerate")
        keys[str(key)] = held.hold(obj)
    return run, keys


class RegenerateRunner(JobRunner):
    """A regenerate job: each mesh that arrives replaces its object's mesh instead of adding one."""

    def __init__(self, session: Any, scene: bpy.types.Scene, request: Any, objects: dict[str, held.Held]) -> None:
        self.objects = objects  # stem -> the object
        self.folder = Path(request.run) / "regenerated"
        super().__init__(session, scene, request, Path(request.run).name)

    def _place_mesh(self, artifact: Any) -> None:
        path = Path(artifact.path)
        kept = self.objects.get(path.stem)
        # Paths come from another process: only a mesh in the run's own regenerated/ is taken.
        inside = Path(os.path.realpath(self.folder)) in Path(os.path.realpath(path)).parents
        obj = held.held_object(kept) if kept is not None and inside else None
        if obj is None or obj.type != "MESH":
            self.outcome.failed_targets.append(f"{artifact.target}: its object is gone; the new mesh is {path}")
            return
        try:
            scene_import.swap_mesh(obj, path, self.outcome.notes, self.budget)
        except scene_import.OverBudget:
            self.leave_out(obj.name)
            return
        except scene_import.ImportFailed as exc:
            self.outcome.failed_targets.append(f"{obj.name}: {exc}")
            return
        said = scene_import.candidate_name(artifact.target, obj.get(TAG + "seed"))
        if obj.get(TAG + "candidate_of") and obj.name == said:  # it would name a seed it no longer has
            obj.name = scene_import.candidate_name(artifact.target, artifact.seed)
        scene_import.tag(obj, seed=artifact.seed, mesh=str(path))
        self.outcome.made.append(held.hold(obj))
        high = self.high_meshes.pop(path.stem, None)  # a finished object's new generated mesh
        if high is not None and Path(os.path.realpath(self.folder)) in Path(os.path.realpath(high)).parents:
            try:
                finished_objects.add_high_mesh(obj, high, self.budget)
            except scene_import.OverBudget:
                self.leave_out(f"{obj.name} (high)")
            except scene_import.ImportFailed as exc:
                self.outcome.failed_targets.append(f"{obj.name} (high): {exc}")


class IMG23D_OT_regenerate(JobOperatorMixin, bpy.types.Operator):
    """Make a new mesh for each selected object img23d made, from its run's own cut-out, and swap it in
    (same name, place, collection, parent and modifiers)"""

    bl_idname = "img23d.regenerate"
    bl_label = "Regenerate"
    bl_options = {"REGISTER", "UNDO"}

    new_seed: BoolProperty(  # type: ignore[valid-type]
        name="New Seed", default=True,
        description="Draw a new seed (reported after the job); off: the panel's Seed")

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        run, objects = chosen_objects(context)
        options = _inputs.options(context)
        if self.new_seed:
            options.random_seed = True
        _inputs.check_limits(context, options, runtime.session())
        request = protocol.RegenerateRequest(run=run, keys=list(objects), options=options)
        return RegenerateRunner(runtime.session(), context.scene, request, objects)

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        result = outcome.result
        note = f"seed {result.seed}" if isinstance(result, protocol.RegenerateJobResult) else ""
        return self.report_outcome(outcome, made_something=bool(outcome.objects), note=note)


classes = (IMG23D_OT_regenerate,)
