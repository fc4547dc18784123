"""``img23d.retexture``: paint the selected mesh from the image, keeping the artist's mesh."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty

from .. import held, preferences, retexture_mesh, runtime, scene_import
from ..job_runner import JobRunner, Outcome
import img23d_protocol as protocol
from . import _inputs
from ._job import JobOperatorMixin


class IMG23D_OT_retexture(JobOperatorMixin, bpy.types.Operator):
    """Paint the selected mesh from the image: same object, same topology and UVs, a new material"""

    bl_idname = "img23d.retexture"
    bl_label = "Re-texture"
    bl_options = {"REGISTER", "UNDO"}

    use_modifiers: BoolProperty(  # type: ignore[valid-type]
        name="Paint With Modifiers", default=False,
        description="Paint the mesh as its modifiers leave it (needs a UV map), not the base mesh")

    _object: held.Held | None = None
    _uv_map: str | None = None
    _left_out: tuple[str, ...] = ()  # the views that could not be sent, one sentence each

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        obj = _inputs.mesh_in_object_mode(context, "re-texture", "re-texture it")
        image, image_name = _inputs.image_file(context)
        options = _inputs.options(context)
        options.texture = True
        views, left_out = _inputs.retexture_views(context)
        self._left_out = tuple(left_out)
        _inputs.check_limits(context, options, runtime.session(), shapes=False)  # before the mesh is written
        folder = preferences.get(context).launch_settings().runs_dir / "_inputs"
        try:
            mesh_file, self._uv_map = retexture_mesh.write_mesh_file(context, obj, folder, self.use_modifiers)
        except retexture_mesh.MeshProblem as exc:
            raise _inputs.InputError(str(exc)) from exc
        except OSError as exc:
            raise _inputs.InputError(f"could not write the mesh for the backend to {folder}: {exc}") from exc
        self._object = held.hold(obj)
        request = protocol.RetextureRequest(image=str(image), mesh=str(mesh_file), name=obj.name, options=options,
                                            views=views)
        return JobRunner(runtime.session(), context.scene, request, image_name)

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        for note in self._left_out:
            self.report({"WARNING"}, note)
        if not outcome.ok:
            return self.report_outcome(outcome, made_something=False)
        assert self._object is not None
        obj = held.held_object(self._object)
        if obj is None or obj.type != "MESH":
            self.report({"ERROR"}, f"'{self._object.name}' is gone; its texture is in {outcome.run_dir}")
            return {"CANCELLED"}
        result = outcome.result
        if not isinstance(result, protocol.RetextureJobResult) or not result.texture:
            self.report({"ERROR"}, f"the backend named no texture; the run is in {outcome.run_dir}")
            return {"CANCELLED"}
        try:
            material = retexture_mesh.apply_result(
                obj, Path(result.texture), Path(result.uvs) if result.uvs else None, self._uv_map,
                Path(result.metallic_roughness) if result.metallic_roughness else None)
        except (retexture_mesh.MeshProblem, scene_import.ImportFailed, RuntimeError, OSError) as exc:
            self.report({"ERROR"}, f"the texture could not be applied: {exc}; it is in {outcome.run_dir}")
            return {"CANCELLED"}
        how = "through a reduced proxy, " if result.proxy else ""
        uvs = "a new UV map 'img23d'" if result.uv_created else f"its UV map '{self._uv_map}'"
        maps = " (colour, roughness and metallic)" if result.metallic_roughness else ""
        self.report({"INFO"}, f"Re-textured '{obj.name}' {how}with {uvs}: material '{material.name}'{maps}")
        if result.materials_skipped:
            self.report({"WARNING"}, result.materials_skipped)
        return {"FINISHED"}


classes = (IMG23D_OT_retexture,)
