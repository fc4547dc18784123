"""Rig: a mesh file given a skeleton and skin weights, written as a GLB with a glTF skin (``rigging.driver``).

Two ways in, each adapted to the rigging room's driver and back: ``run_rig``, the command line's (its own
run folder; no engine: the geometric rigger loads no model, and a model's rigger reads its files here), and
``RigRun``, the protocol's ``rig`` request under the engine (the add-on's Rig Selected and Skin to Selected
Armature), whose skeleton may come as bones in the request, a rigger's model registered with the engine's
model manager on first use and run through it (its budget and offloading as every model's). A cancel (the
command line's Ctrl-C or SIGTERM, the protocol's cancel) stops it between steps; a failure closes the run
``failed`` with its one sentence.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

from img23d_protocol import ErrorCode, Manifest, ProtocolError, RigBone, RigJobResult, RigRequest

from .. import __version__
from ..catalog import tiny_root_of
from ..env.job_control import CancelToken
from ..readers.meshes import check_mesh_path
from ..rigging.driver import (RigInput, RigResult, check_model, check_weights, model_through, register_model,
                              rig_into, roles_used)
from ..runs.folders import RunFolder
from ..runs.stems import safe_stem
from .base import JobRun
from .context import EngineContext

KIND = "rig"


def run_rig(request: RigInput, runs_dir: Path, say: Callable[[str], None] = lambda text: None,
            cancel: CancelToken | None = None, started: Callable[[RunFolder], None] = lambda folder: None) -> RigResult:
    """Rig ``request.mesh`` in a new run folder under ``runs_dir``; ``ProtocolError`` with one sentence on
    a bad file, skeleton or mesh (the run folder kept, its manifest saying ``failed``, or ``cancelled`` after
    ``cancel``). ``started``: told the run folder once it exists (a signal's watcher closes it)."""
    check_weights(request.weights, f"--weights {request.weights}")
    name = safe_stem(request.name or request.mesh.stem or "mesh")
    manifest = Manifest(job_id=uuid.uuid4().hex[:12], kind=KIND, backend_version=__version__, targets=[name],
                        options={"weights": request.weights, "skeleton": str(request.skeleton or ""),
                                 "humanoid_names": request.humanoid_names, "seed": request.seed})
    folder = RunFolder.create(runs_dir, f"{name}-rig", manifest)
    started(folder)
    try:
        result = rig_into(request, folder, name, say, cancel=cancel)
    except ProtocolError as exc:  # unless a signal's watcher closed the run first (``close_with``)
        folder.close_with("cancelled" if exc.code is ErrorCode.CANCELLED else "failed",
                          {"code": exc.code.value, "message": exc.message, "detail": exc.detail})
        raise
    folder.finish("finished")
    return result


class RigRun(JobRun[RigRequest]):
    """The protocol's ``rig`` request under the engine: the add-on's mesh file rigged in a run folder of the
    engine's, its progress and cancel as every job's."""

    kind = KIND

    @classmethod
    def check_request(cls, request: RigRequest) -> None:
        check_mesh_path(Path(request.mesh))  # a file of a kind read here, of a size read here
        check_weights(request.weights, f"weights {request.weights!r}")

    @classmethod
    def check_models(cls, request: RigRequest, engine: EngineContext) -> None:
        if cls.roles_used(request):
            register_model(engine.manager, request.weights, engine.settings.models.name,
                           tiny_root_of(engine.settings.models))

    @classmethod
    def check_memory(cls, request: RigRequest, engine: EngineContext) -> None:
        if cls.roles_used(request):
            check_model(engine.manager, request.weights, request.options.accept_long)

    @classmethod
    def roles_used(cls, request: RigRequest) -> tuple[str, ...]:
        return roles_used(request.weights, bool(request.skeleton))

    @classmethod
    def folder_label(cls, request: RigRequest) -> str:
        return f"{request.name}-rig"

    def body(self) -> RigJobResult:
        request = RigInput(mesh=Path(self.request.mesh), weights=self.request.weights,
                           humanoid_names=self.request.humanoid_names, seed=self.options.seed, name=self.request.name,
                           bones=list(self.request.skeleton))
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
                            timings=dict(self.run_folder.manifest.timings))


__all__ = ["RigInput", "RigResult", "RigRun", "run_rig"]
