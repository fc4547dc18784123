"""Rigging in Blender: ``img23d.rig_selected`` (the selected mesh given a skeleton and weights: an Armature
where it stands, a vertex group per bone, an Armature modifier), ``img23d.skin_to_armature`` (the selected
mesh's weights for the selected armature, its bones and names kept) and ``img23d.pose_test`` (the limbs
swung for a look, one Ctrl+Z away). The first two send the backend's ``rig`` job (by the panel's Rig By, a
rigger of ``protocol.RIGGERS``; an artist's armature is bound as it is); ``rig_objects`` builds what comes back."""

from __future__ import annotations

import bpy

import img23d_protocol as protocol
from .. import held, model_choices, rig_objects, runtime
from ..job_runner import JobRunner, Outcome
from . import _inputs
from ._job import JobOperatorMixin


def _selected_mesh(context: bpy.types.Context, doing: str) -> bpy.types.Object:
    """The active mesh when it is selected, else the one selected mesh (an active mesh left unselected after a
    box select was rigged in place of the one picked), checked as a rig can be put on it."""
    meshes = [obj for obj in context.selected_objects if obj.type == "MESH"]
    active = context.view_layer.objects.active
    obj = active if active is not None and active.type == "MESH" and active.select_get() else \
        (meshes[0] if len(meshes) == 1 else None)
    if obj is None:
        raise _inputs.InputError(f"Select one mesh object to {doing}")
    try:
        rig_objects.check_can_rig(obj, doing)
    except rig_objects.RigProblem as exc:
        raise _inputs.InputError(str(exc)) from exc
    return obj


class _RigJob(JobOperatorMixin):
    _mesh: held.Held | None = None
    _armature: held.Held | None = None

    def _runner(self, context: bpy.types.Context, obj: bpy.types.Object,
                bones: list[protocol.RigBone]) -> JobRunner:
        self._mesh = held.hold(obj)
        settings = context.scene.img23d
        request = protocol.RigRequest(mesh=_inputs.mesh_file(context, obj), name=obj.name, skeleton=bones,
                                      weights=model_choices.rig_weights(settings.rig_weights, bool(bones)),
                                      humanoid_names=settings.rig_humanoid_names, options=_inputs.options(context))
        return JobRunner(runtime.session(), context.scene, request, obj.name)

    def _weights(self, outcome: Outcome) -> tuple[bpy.types.Object, protocol.RigJobResult,
                                                  rig_objects.VertexWeights] | None:
        result = outcome.result
        assert self._mesh is not None
        mesh = held.held_object(self._mesh)
        if mesh is None or not isinstance(result, protocol.RigJobResult):
            self.report({"ERROR"}, f"'{self._mesh.name}' is gone; its rig is in {outcome.run_dir}")
            return None
        try:
            # As it was when the job started: it may have gone into Edit Mode, or out of the view layer, since (a
            # half-built rig was left).
            rig_objects.check_can_rig(mesh, "put the rig on it")
            weights = rig_objects.read_weights(outcome.run_dir or "", result.weights, len(mesh.data.vertices),
                                               len(result.bones))
        except rig_objects.RigProblem as exc:
            self.report({"ERROR"}, f"{str(exc)[:1].upper()}{str(exc)[1:]}; the rig is in {outcome.run_dir}")
            return None
        return mesh, result, weights


class IMG23D_OT_rig_selected(_RigJob, bpy.types.Operator):
    """Give the selected mesh a skeleton and skin weights: an Armature where it stands, a vertex group per bone
    and an Armature modifier (by a model, or by geodesic voxel binding with none: the panel's Rig By)"""

    bl_idname = "img23d.rig_selected"
    bl_label = "Rig Selected"
    bl_options = {"REGISTER", "UNDO"}

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        return self._runner(context, _selected_mesh(context, "rig it"), [])

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        if not outcome.ok:
            return self.report_outcome(outcome, made_something=False)
        found = self._weights(outcome)
        if found is None:
            return {"CANCELLED"}
        mesh, result, weights = found
        armature = rig_objects.build_armature(mesh, result.bones, f"{mesh.name} rig", result.source)
        rig_objects.bind(mesh, armature, [bone.name for bone in result.bones], weights)
        for note in result.notes:
            self.report({"WARNING"}, note)
        named = " (Mixamo's names)" if result.humanoid else ""
        self.report({"INFO"}, f"Rigged '{mesh.name}' by {result.source} with {len(result.bones)} bones{named} in "
                              f"'{armature.name}'; Pose Test swings its limbs")
        return {"FINISHED"}


class IMG23D_OT_skin_to_armature(_RigJob, bpy.types.Operator):
    """Weight the selected mesh to the selected armature: its bones and names kept, a vertex group per bone and
    an Armature modifier (geodesic voxel binding, no model)"""

    bl_idname = "img23d.skin_to_armature"
    bl_label = "Skin to Selected Armature"
    bl_options = {"REGISTER", "UNDO"}

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        mesh = _selected_mesh(context, "skin it to an armature")
        armatures = [obj for obj in context.selected_objects if obj.type == "ARMATURE"]
        if len(armatures) != 1:
            raise _inputs.InputError("Select the mesh and one armature (Shift+click) to skin the mesh to it")
        armature = armatures[0]
        if not armature.data.bones:
            raise _inputs.InputError(f"The armature '{armature.name}' has no bones to skin the mesh to")
        if len(armature.data.bones) > protocol.MAX_BONES:   # the protocol's one limit: said before any job
            raise _inputs.InputError(f"The armature '{armature.name}' has {len(armature.data.bones):,} bones, more "
                                     f"than the {protocol.MAX_BONES:,} img23d binds")
        self._armature = held.hold(armature)
        to_mesh = mesh.matrix_world.inverted() @ armature.matrix_world   # bones in the mesh's own space
        bones = list(armature.data.bones)
        index = {bone.name: i for i, bone in enumerate(bones)}
        skeleton = [protocol.RigBone(name=bone.name, head=tuple(to_mesh @ bone.head_local),
                                     tail=tuple(to_mesh @ bone.tail_local),
                                     parent=index[bone.parent.name] if bone.parent else -1) for bone in bones]
        return self._runner(context, mesh, skeleton)

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        if not outcome.ok:
            return self.report_outcome(outcome, made_something=False)
        found = self._weights(outcome)
        assert self._armature is not None
        armature = held.held_object(self._armature)
        if found is None or armature is None:
            if armature is None:
                self.report({"ERROR"}, f"The armature '{self._armature.name}' is gone; the rig is in {outcome.run_dir}")
            return {"CANCELLED"}
        mesh, result, weights = found
        rig_objects.bind(mesh, armature, [bone.name for bone in result.bones], weights)
        self.report({"INFO"}, f"Skinned '{mesh.name}' to '{armature.name}' ({len(result.bones)} bones, names kept)")
        return {"FINISHED"}


class IMG23D_OT_pose_test(bpy.types.Operator):
    """Swing the limbs of the selected rig (or the rig of the selected mesh) to see how the mesh deforms;
    Ctrl+Z puts the rest pose back"""

    bl_idname = "img23d.pose_test"
    bl_label = "Pose Test"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        armature = rig_objects.armature_of(context.view_layer.objects.active)
        if armature is None:
            self.report({"ERROR"}, "Select a rigged mesh or its armature for the Pose Test")
            return {"CANCELLED"}
        swung = rig_objects.pose_test(armature)
        if not swung:
            self.report({"WARNING"}, f"'{armature.name}' has no bone named as a limb (arm, leg, tail...) to swing")
            return {"CANCELLED"}
        context.view_layer.update()
        self.report({"INFO"}, f"Swung {', '.join(swung)}; Ctrl+Z puts the rest pose back")
        return {"FINISHED"}


classes = (IMG23D_OT_rig_selected, IMG23D_OT_skin_to_armature, IMG23D_OT_pose_test)
