"""Rig: a mesh file given a skeleton and skin weights, written as a GLB with a glTF skin (``rigging.driver``).

One way in for both callers: the protocol's ``rig`` request under the engine, which the add-on sends (Rig
Selected, Skin to Selected Armature) and the command line's ``rig`` builds and runs through ``Session``, as
the parts command does. ``RigRun`` adapts the request to the rigging room's own (``rigging.driver.RigInput``)
and its rig back to the protocol's ``RigJobResult``. The skeleton comes as bones in the request (the artist's
armature), as a file's skin (``skeleton_file``: the command line's ``--skeleton``), or from the shape; other
levels of detail (``also``) get the same skeleton. A rigger's model is registered with the engine's model
manager on first use and run through it (its budget and offloading as every model's); the geometric rigger
loads none. A cancel (the protocol's, or the command line's Ctrl-C or SIGTERM) stops it between steps; a
failure closes the run ``failed`` with its one sentence.
"""

from __future__ import annotations

from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError, RigBone, RigJobResult, RigRequest, check_one_skeleton

from ...catalog import tiny_root_of
from ...readers.meshes import check_mesh_path
from ...rigging.driver import RigInput, check_model, check_weights, model_through, register_model, rig_into, roles_used
from ...runs.stems import safe_stem
from ..base import JobRun
from ..context import EngineContext

KIND = "rig"


class RigRun(JobRun[RigRequest]):
    """A ``rig`` request under the engine: its mesh rigged in a run folder of the engine's, its progress and cancel
    as every job's."""

    kind = KIND

    @classmethod
    def check_request(cls, request: RigRequest) -> None:
        check_mesh_path(Path(request.mesh))  # a file of a kind read here, of a size read here
        check_weights(request.weights, f"weights {request.weights!r}")
        check_one_skeleton(request.skeleton, request.skeleton_file)   # a request made here skips the wire's check
        if request.skeleton_file and not Path(request.skeleton_file).is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no skeleton file at {request.skeleton_file}")
        for level in request.also:
            check_mesh_path(Path(level))

    @classmethod
    def check_models(cls, request: RigRequest, engine: EngineContext) -> None:
        if cls.roles_used(request):
            register_model(engine.manager, request.weights, engine.settings.models.name,
                           tiny_root_of(engine.settings.models), engine.offline())

    @classmethod
    def check_memory(cls, request: RigRequest, engine: EngineContext) -> None:
        if cls.roles_used(request):
            check_model(engine.manager, request.weights, request.options.accept_long)

    @classmethod
    def roles_used(cls, request: RigRequest) -> tuple[str, ...]:
        return roles_used(request.weights, bool(request.skeleton or request.skeleton_file))

    @classmethod
    def folder_label(cls, request: RigRequest) -> str:
        return f"{safe_stem(request.name or 'mesh')}-rig"

    def body(self) -> RigJobResult:
        request = RigInput(mesh=Path(self.request.mesh), weights=self.request.weights,
                           skeleton=Path(self.request.skeleton_file) if self.request.skeleton_file else None,
                           humanoid_names=self.request.humanoid_names, seed=self.options.seed, name=self.request.name,
                           bones=list(self.request.skeleton), also=[Path(level) for level in self.request.also],
                           made=self.made_by())

        def progress(text: str) -> None:
            self.progress("rig", 0, 1, text)

        run_model = model_through(self.manager, request.weights, progress) if self.roles_used(self.request) else None
        with self.stage("rig"):
            result = rig_into(request, self.run_folder, safe_stem(self.request.name or "mesh"), progress, run_model,
                              self.job.cancel)
        skeleton = result.skeleton
        bones = tuple(RigBone(name=skeleton.names[j], head=tuple(map(float, skeleton.heads[j])),
                              tail=tuple(map(float, skeleton.tails[j])), parent=skeleton.parents[j])
                      for j in range(skeleton.count)) if skeleton is not None else ()
        return RigJobResult(run_dir=str(self.run_folder.root), manifest=str(self.run_folder.path("manifest.json")),
                            rigged=result.rigged, weights=result.weights, bones=bones, source=result.source,
                            humanoid=result.humanoid, vertices=result.vertices, notes=tuple(result.notes),
                            timings=dict(self.run_folder.manifest.timings), lods=tuple(result.lods))


__all__ = ["RigRun"]
