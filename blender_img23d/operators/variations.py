"""``img23d.keep_variation``: the chosen candidate of a job with variations becomes the object.

It takes its target's name, its place in the run's layout (as Re-layout would stand it, for the
panel's layout settings) and the run's collection; the target's other candidates are removed,
with their meshes, and the candidates collection once it is empty. One undo step.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import bpy
from img23d_client import run_layout

from .. import finished_objects, runtime, scene_import

TAG = scene_import.PROP_PREFIX


def _same_run(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and bool(a) and \
        os.path.realpath(bpy.path.abspath(a)) == os.path.realpath(bpy.path.abspath(b))


def _home_of(context: bpy.types.Context, holder: bpy.types.Collection | None) -> bpy.types.Collection | None:
    """The collection the candidates collection ``holder`` lies in: the run's, or the scene's own once the run's
    was deleted (the candidates collection then moves up to it, and the kept object stayed among candidates)."""
    if holder is None:
        return None
    found = next((c for c in bpy.data.collections if holder.name in c.children), None)
    return found or (context.scene.collection if holder.name in context.scene.collection.children else None)


class IMG23D_OT_keep_variation(bpy.types.Operator):
    """Keep the active candidate: it takes its object's name, place and collection, and the other
    candidates of the same object are removed"""

    bl_idname = "img23d.keep_variation"
    bl_label = "Keep"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        chosen = context.active_object
        if chosen is None or not chosen.get(TAG + "candidate_of"):
            self.report({"ERROR"}, "Select one of the candidates a job with Variations made, then press Keep")
            return {"CANCELLED"}
        if runtime.active_runner is not None and not runtime.active_runner.finished:
            # Its object's later candidates were still to come: they arrived beside the kept one, a second object.
            self.report({"ERROR"}, "A job is still running: press Keep once it has finished (or after Cancel)")
            return {"CANCELLED"}
        anchor, run = str(chosen[TAG + "candidate_of"]), chosen.get(TAG + "run")
        # Only the candidates collection the import made (its tag), and only its candidates: a collection of the
        # artist's that held the chosen one was removed, and so were the same run's candidates of another import.
        holder = next((c for c in chosen.users_collection if c.get(scene_import.CANDIDATES_TAG)), None)
        home = _home_of(context, holder)
        others = [o for o in (holder.objects if holder is not None else ()) if o != chosen
                  and o.get(TAG + "candidate_of") == anchor and _same_run(o.get(TAG + "run"), run)]
        # A candidate twice (Shift+D carries its tags): one is the artist's copy, maybe edited. Neither is removed.
        keys = Counter(str(o.get(TAG + "key")) for o in (chosen, *others) if o.get(TAG + "key"))
        copies = [o for o in others if o.get(TAG + "key") and keys[str(o.get(TAG + "key"))] > 1]
        others = [o for o in others if o not in copies]
        self._place(context, chosen, anchor, str(run or ""))
        high = finished_objects.high_of(chosen)
        if holder is not None and home is not None:
            for obj in (chosen, high):
                if obj is not None and holder in obj.users_collection:
                    holder.objects.unlink(obj)
                    home.objects.link(obj)
        finished_objects.follow(chosen)
        for other in others:   # with its high mesh (a finished candidate's), which kept the collection alive
            for obj in (finished_objects.high_of(other), other):
                if obj is not None:
                    mesh = obj.data
                    bpy.data.objects.remove(obj, do_unlink=True)
                    if mesh is not None and mesh.users == 0:
                        bpy.data.meshes.remove(mesh)
        if holder is not None and home is not None and not holder.all_objects:
            bpy.data.collections.remove(holder)
        chosen.name = chosen.data.name = str(chosen.get(TAG + "target") or chosen.name)
        for name in ("candidate_of", "home"):
            if TAG + name in chosen:
                del chosen[TAG + name]
        kept_copies = (f"; left {', '.join(repr(o.name) for o in copies)}: a candidate and its copy, one of them "
                       "yours" if copies else "")
        self.report({"INFO"}, f"Kept '{chosen.name}' (seed {chosen.get(TAG + 'seed')}); removed {len(others)} "
                              f"other candidate(s){kept_copies}")
        return {"FINISHED"}

    def _place(self, context: bpy.types.Context, obj: bpy.types.Object, anchor: str, run: str) -> None:
        """Where its object belongs: the run's layout for the panel's settings, or back from the side."""
        try:
            manifest = run_layout.read_manifest(Path(bpy.path.abspath(run)))
        except run_layout.NotARun:
            manifest = None
        scene_layout = run_layout.solve_run(manifest, context.scene.img23d.layout_choice()) if manifest else None
        if scene_layout is not None and anchor in scene_layout.anchors:
            scene_import.place(obj, scene_layout, anchor)
        elif TAG + "home" in obj:  # the run is gone: back from the side to where it was placed
            obj.location = tuple(obj[TAG + "home"])


classes = (IMG23D_OT_keep_variation,)
