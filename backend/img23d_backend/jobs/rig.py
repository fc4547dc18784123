"""Rig: a mesh file given a skeleton and skin weights, written as a GLB with a glTF skin; no model runs.

The mesh is read as a glTF (a GLB or glTF as it is; an OBJ or PLY as trimesh exports it, with its
material; the add-on's ``.npz`` as its bare surface), gathered into img23d's frame (``gltf.scene``)
and rigged by the ``--weights`` rigger (``rigging.table``): with ``--skeleton FILE`` it binds that
file's skin joints (``rigging.gltf_joints``, names kept), else a skeleton from the shape alone. The
rig goes into the input's own glTF (``rigging.gltf_skin``), so its materials, UVs and textures stay.

Every input is bounded before the work and every failure is one sentence with the run closed ``failed``
(``rigging.limits``: finite positions, a surface, the binding's samples, the joints; ``gltf.scene``: the
file's own arrays, nodes and triangles); a text glTF's buffers and images are read from the source's own
folder only, and the outputs are no more readable than the files they came from (``copy_mode``). A
cancel (``cancel``: the command line's Ctrl-C or SIGTERM, the protocol's cancel) stops it between steps.

Written through the run folder (``runs.folders``): the input's copy, ``<name>_rigged.glb``,
``<name>_weights.npz`` (each vertex's four strongest bones and weights, in the input's vertex order: what
the add-on makes vertex groups of) and ``rig.json`` (the bones, where they came from, what was said, the
seconds). Two ways in: ``run_rig``, the command line's (no engine: the geometric rigger loads no model), and
``RigRun``, the protocol's ``rig`` request under the engine (the add-on's Rig Selected and Skin to Selected
Armature), whose skeleton may come as bones in the request.
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import ErrorCode, Manifest, ProtocolError, RigBone, RigJobResult, RigRequest, duration

from .. import __version__
from ..catalog import tiny_root_of
from ..env import failpoints
from ..env.job_control import CancelToken
from ..models.registry import default_tiny_root
from ..models.step_costs import device_label
from ..readers.mesh_file import read_arrays
from ..readers.meshes import check_mesh_path
from ..readers.texture_files import CheckedTextures
from ..gltf import scene as gltf_scene
from ..gltf.frame import to_gltf
from ..rigging.gltf_joints import read_skeleton
from ..rigging.gltf_skin import add_skin, write_glb
from ..rigging.limits import check_binding, check_joints, check_mesh
from ..rigging.rigger import Rig, RigMesh, RigOptions
from ..rigging.skeleton import BadSkeleton, Skeleton
from ..rigging.skintokens import costs as skintokens_costs
from ..rigging.skintokens.rigger import ROLE as RIGGING_ROLE
from ..rigging.skintokens.rigger import loader as skintokens_loader
from ..rigging.skintokens.rigger import model_folder, rig_network, spec_for
from ..rigging.table import DEFAULT_WEIGHTS, MODEL_WEIGHTS, RIGGERS
from ..rigging.transfer import transfer_skin
from ..runs.folders import RunFolder
from ..runs.stems import safe_stem
from .base import JobRun
from .context import EngineContext

KIND = "rig"
ModelRun = Callable[[RigMesh, RigOptions], Rig]   # a model's rig of a mesh (a job's: through its manager)


@dataclass
class RigInput:
    """What a rig is asked for, from the command line or a protocol request."""

    mesh: Path
    weights: str = DEFAULT_WEIGHTS
    skeleton: Path | None = None
    humanoid_names: bool = True
    seed: int = 0
    name: str = ""
    bones: list[RigBone] = field(default_factory=list)   # the artist's skeleton as bones (the add-on's armature)
    models: str = "default"     # where a model rigger's files come from: the hub's ("default") or the tiny replica
    also: list[Path] = field(default_factory=list)   # other levels of detail: the rig's weights carried to each


@dataclass
class RigResult:
    run_dir: str
    rigged: str                 # the GLB, relative to the run folder
    weights: str                # the per-vertex weights (.npz), relative to the run folder
    source: str                 # where the skeleton came from (rigging.rigger)
    bones: list[str]
    humanoid: bool
    vertices: int
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    skeleton: Skeleton | None = None   # the skeleton bound, in img23d's frame
    lods: list[str] = field(default_factory=list)   # each ``also`` mesh rigged (its GLB, relative to the run)


def run_rig(request: RigInput, runs_dir: Path, say: Callable[[str], None] = lambda text: None,
            cancel: CancelToken | None = None, started: Callable[[RunFolder], None] = lambda folder: None) -> RigResult:
    """Rig ``request.mesh`` in a new run folder under ``runs_dir``; ``ProtocolError`` with one sentence on
    a bad file, skeleton or mesh (the run folder kept, its manifest saying ``failed``, or ``cancelled`` after
    ``cancel``). ``started``: told the run folder once it exists (a signal's watcher closes it)."""
    if request.weights not in RIGGERS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"--weights {request.weights} is no rigger img23d has "
                                                   f"({', '.join(RIGGERS)})")
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


def rig_into(request: RigInput, folder: RunFolder, name: str, say: Callable[[str], None],
             run_model: ModelRun | None = None, cancel: CancelToken | None = None) -> RigResult:
    """Rig ``request.mesh`` into ``folder`` (see the module's docstring); ``ProtocolError`` with one sentence."""
    started = time.perf_counter()
    check = cancel.check if cancel is not None else lambda: None
    copy = folder.copy_in(f"input{request.mesh.suffix.lower()}", request.mesh)
    gltf, like = _as_gltf(copy, folder, request.mesh)
    try:
        mesh = gltf_scene.gather_mesh(gltf)
        skeleton = read_skeleton(request.skeleton) if request.skeleton is not None else \
            _skeleton_of(request.bones) if request.bones else None
    except (gltf_scene.GltfUnreadable, BadSkeleton) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, str(exc)) from exc
    if len(mesh.triangles) == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{request.mesh.name} has no surface (no triangles) to rig")
    check_mesh(mesh.positions, mesh.triangles, request.mesh.name)
    samples = check_binding(mesh.positions, mesh.triangles)
    say(f"read {len(mesh.positions):,} vertices and {len(mesh.triangles):,} triangles (the binding samples "
        f"{samples:,} points on them)")
    failpoints.hit("rig.bind")  # where a test holds a rig to stop it (``env.failpoints``)
    check()
    rig = _rigged(request, RigMesh(mesh.positions, mesh.triangles), skeleton, say, run_model)
    say(f"bound {rig.skeleton.count} bones in {sum(rig.seconds.values()):.1f} s")
    check()
    add_skin(gltf, mesh, rig.skeleton, rig.skin)
    path = folder.write_bytes_with(f"{name}_rigged.glb", lambda target: write_glb(gltf, target), like)
    weights = folder.write_bytes_with(f"{name}_weights.npz", lambda target: _save_weights(target, rig), like)
    lods = [_carried_to(other, index, folder, rig, mesh, say, like) for index, other in enumerate(request.also, 1)]
    seconds = {**{k: round(v, 3) for k, v in rig.seconds.items()}, "total": round(time.perf_counter() - started, 3)}
    folder.manifest.timings.update(seconds)
    folder.write_json("rig.json", {**_record(rig, request, len(mesh.positions), seconds), "also_rigged": lods})
    return RigResult(run_dir=str(folder.root), rigged=folder.relative(path), weights=folder.relative(weights),
                     source=rig.source,
                     bones=list(rig.skeleton.names), humanoid=rig.humanoid, vertices=len(mesh.positions),
                     notes=list(rig.notes), seconds=seconds, skeleton=rig.skeleton, lods=lods)


def _carried_to(other: Path, index: int, folder: RunFolder, rig: Rig, source: Any, say: Callable[[str], None],
                source_like: int) -> str:
    """Another level of detail of the mesh (``--also``), given the same skeleton and the weights carried to it
    by nearest-surface transfer (``rigging.transfer``): one skeleton for every level, each vertex weighted as
    the surface it sits on. Written as ``<its name>_rigged.glb`` (no more readable than either mesh:
    ``source_like``, the first's permission bits); its path relative to the run."""
    copy = folder.copy_in(f"lod{index}{other.suffix.lower()}", other)
    gltf, like = _as_gltf(copy, folder, other, f"lod{index}_as.glb")
    try:
        mesh = gltf_scene.gather_mesh(gltf)
    except gltf_scene.GltfUnreadable as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{other.name}: {exc}") from exc
    if len(mesh.triangles) == 0:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{other.name} has no surface (no triangles) to rig")
    check_mesh(mesh.positions, mesh.triangles, other.name)
    skin = transfer_skin(source.positions, source.triangles, rig.skin, rig.skeleton.count, mesh.positions)
    add_skin(gltf, mesh, rig.skeleton, skin)
    path = folder.write_bytes_with(f"{safe_stem(other.stem)}_rigged.glb", lambda target: write_glb(gltf, target),
                                   like & source_like)
    say(f"carried the weights to {other.name} ({len(mesh.positions):,} vertices)")
    return folder.relative(path)


def _rigged(request: RigInput, mesh: RigMesh, skeleton: Skeleton | None, say: Callable[[str], None],
            run_model: ModelRun | None = None) -> Rig:
    """The rig by ``request.weights``; the model's rigger replaced by the geometric binding, said in one
    sentence, where its files cannot be had, a skeleton is given, or it fails on this mesh. ``run_model``:
    a job's way to the model (its manager); without it the files are found or downloaded here."""
    options, notes = RigOptions(request.humanoid_names, request.seed), []
    if request.weights == MODEL_WEIGHTS:
        if skeleton is not None:
            notes.append("SkinTokens makes its own skeleton, so the given one was bound by the geometric binding")
        else:
            run_model = run_model or _model_here(request, say)
            try:
                if run_model is not None:
                    return _with_notes(run_model(mesh, options), notes)
                notes.append("SkinTokens could not be read (VAST-AI/SkinTokens is not downloaded and cannot be now), "
                             "so the geometric binding made the weights")
            except ProtocolError as exc:
                if exc.code is ErrorCode.CANCELLED:
                    raise
                notes.append(f"SkinTokens could not be loaded ({exc.message}), so the geometric binding made the "
                             "weights")
            except (BadSkeleton, ValueError, RuntimeError) as exc:
                notes.append(f"SkinTokens could not rig this mesh ({exc}), so the geometric binding made the weights")
    try:
        return _with_notes(RIGGERS["geometric"].rig(mesh, skeleton, options), notes)
    except BadSkeleton as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, str(exc)) from exc


def _model_here(request: RigInput, say: Callable[[str], None]) -> ModelRun | None:
    folder = model_folder(request.models, default_tiny_root())
    if folder is None:
        return None
    tiny = request.models == "tiny"
    estimate = skintokens_costs.estimate_here(spec_for(request.models, default_tiny_root()), "cpu")
    say(f"rigging with SkinTokens from {folder}: {_expected(estimate, 'cpu')}")
    return lambda mesh, options: RIGGERS[MODEL_WEIGHTS].rig(mesh, None, replace(options, model_folder=folder,
                                                                                  short_decoding=tiny))


def _expected(estimate: skintokens_costs.RigEstimate, device: Any) -> str:
    """The time a rig is expected to take, said before it starts."""
    return (f"{duration(estimate.total_s)} on {device_label(device)} for a skeleton of about "
            f"{estimate.joints} joints")


def _with_notes(rig: Rig, notes: list[str]) -> Rig:
    return replace(rig, notes=[*notes, *rig.notes])


def _skeleton_of(bones: list[RigBone]) -> Skeleton:
    """The artist's bones (the mesh's own space, Blender's axes: img23d's frame) as a skeleton, checked."""
    check_joints(len(bones), "the skeleton sent")
    return Skeleton(names=tuple(bone.name for bone in bones), heads=[bone.head for bone in bones],
                    tails=[bone.tail for bone in bones], parents=tuple(bone.parent for bone in bones))


def _save_weights(target: Path, rig: Rig) -> None:
    import numpy as np

    with open(target, "wb") as handle:  # a file object: numpy adds no .npz to the temporary name
        np.savez(handle, joints=rig.skin.joints.astype(np.int32), weights=rig.skin.weights.astype(np.float32))


def _as_gltf(copy: Path, folder: RunFolder, source: Path, converted: str = "input_as.glb") -> tuple[Any, int]:
    """The input as a pygltflib glTF (see the module's docstring), and the permission bits its outputs keep:
    those every file it was read from grants (a text glTF's relative URIs resolve from ``source``'s folder,
    only there: its copy in the run has nothing beside it)."""
    suffix = copy.suffix.lower()
    if suffix in (".glb", ".gltf"):
        try:
            found = gltf_scene.read(copy, source.parent)
        except gltf_scene.GltfUnreadable as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, str(exc)) from exc
        return found.gltf, _readable_by(source, *found.files[1:])
    import numpy as np
    import trimesh

    if suffix == ".npz":
        arrays = read_arrays(copy)
        scene: Any = trimesh.Trimesh(to_gltf(arrays["positions"]), np.asarray(arrays["triangles"], np.int64),
                                     process=False)
    else:
        try:
            # Its .mtl and textures beside the source (not in the run), its textures checked from their
            # headers first: as every mesh file is read (``readers.meshes``).
            resolver = CheckedTextures(trimesh.resolvers.FilePathResolver(source.parent), source)
            scene = trimesh.load(str(copy), file_type=suffix.lstrip("."), force="scene", process=False,
                                 resolver=resolver)
        except Exception as exc:  # trimesh raises many kinds for a damaged file: all mean "cannot read it"
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh file {copy.name} cannot be read",
                                f"{type(exc).__name__}: {exc}") from exc
    like = _readable_by(source)
    glb = folder.write_bytes_with(converted, lambda target: scene.export(str(target), file_type="glb"), like)
    try:
        return gltf_scene.load(glb), like
    except gltf_scene.GltfUnreadable as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{source.name}: {exc}") from exc


def _readable_by(*files: Path) -> int:
    """The permission bits every one of ``files`` grants (an output holds what each of them holds)."""
    like = 0o777
    for path in files:
        try:
            like &= stat.S_IMODE(os.stat(path).st_mode)
        except OSError as exc:
            raise ProtocolError(ErrorCode.DISK, f"cannot read {path.name}: {exc.strerror or exc}") from exc
    return like


def _record(rig: Rig, request: RigInput, vertices: int, seconds: dict[str, float]) -> dict[str, Any]:
    skeleton = rig.skeleton
    return {"weights": request.weights, "skeleton_source": rig.source, "humanoid": rig.humanoid,
            "frame": "img23d's: Z up (the GLB itself is glTF's +Y up)", "vertices": vertices,
            "bones": [{"name": skeleton.names[j], "parent": skeleton.parents[j],
                       "head": [round(float(v), 6) for v in skeleton.heads[j]],
                       "tail": [round(float(v), 6) for v in skeleton.tails[j]]} for j in range(skeleton.count)],
            "notes": rig.notes, "seconds": seconds}




class RigRun(JobRun):
    """The protocol's ``rig`` request under the engine: the add-on's mesh file rigged in a run folder of the
    engine's, its progress and cancel as every job's; SkinTokens (``weights`` "model") through the model
    manager, registered on the first such job (its budget and offloading as every model's)."""

    kind = KIND
    request: RigRequest

    @classmethod
    def check_request(cls, request: RigRequest) -> None:  # type: ignore[override]
        check_mesh_path(Path(request.mesh))  # a file of a kind read here, of a size read here
        if request.weights not in RIGGERS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"weights {request.weights!r} is no rigger img23d has "
                                                       f"({', '.join(RIGGERS)})")

    @classmethod
    def check_models(cls, request: RigRequest, engine: EngineContext) -> None:  # type: ignore[override]
        if cls.roles_used(request) and RIGGING_ROLE not in engine.manager.roles:
            root = tiny_root_of(engine.settings.models)
            if engine.settings.models.name == "tiny" and root is not None:
                spec = spec_for("tiny", root)
            elif engine.settings.models.name == "default":
                spec = spec_for("default", default_tiny_root())
            else:
                return   # a set without it: the geometric binding stands in, said in the result's notes
            engine.manager.register(spec, skintokens_loader(spec))

    @classmethod
    def check_memory(cls, request: RigRequest, engine: EngineContext) -> None:  # type: ignore[override]
        """SkinTokens' preflight (``rigging.skintokens.costs``): one sentence when it cannot fit here, or would
        take an hour or more unaccepted; the geometric binding needs neither."""
        if cls.roles_used(request) and RIGGING_ROLE in engine.manager.roles:
            skintokens_costs.preflight(engine.manager.spec(RIGGING_ROLE), engine.manager.device_of(RIGGING_ROLE),
                                       request.options.accept_long)

    @classmethod
    def roles_used(cls, request: RigRequest) -> tuple[str, ...]:  # type: ignore[override]
        return (RIGGING_ROLE,) if request.weights == MODEL_WEIGHTS and not request.skeleton else ()

    @classmethod
    def folder_label(cls, request: RigRequest) -> str:  # type: ignore[override]
        return f"{request.name}-rig"

    def body(self) -> RigJobResult:  # type: ignore[override]
        request = RigInput(mesh=Path(self.request.mesh), weights=self.request.weights,
                           humanoid_names=self.request.humanoid_names, seed=self.options.seed, name=self.request.name,
                           bones=list(self.request.skeleton))
        run_model = self._model if RIGGING_ROLE in self.manager.roles and self.roles_used(self.request) else None
        with self.stage("rig"):
            result = rig_into(request, self.run_folder, safe_stem(self.request.name or "mesh"),
                              lambda text: self.progress("rig", 0, 1, text), run_model, self.job.cancel)
        skeleton = result.skeleton
        bones = tuple(RigBone(name=skeleton.names[j], head=tuple(map(float, skeleton.heads[j])),
                              tail=tuple(map(float, skeleton.tails[j])), parent=skeleton.parents[j])
                      for j in range(skeleton.count)) if skeleton is not None else ()
        return RigJobResult(run_dir=str(self.run_folder.root), manifest=str(self.run_folder.path("manifest.json")),
                            rigged=result.rigged, weights=result.weights, bones=bones, source=result.source,
                            humanoid=result.humanoid, vertices=result.vertices, notes=tuple(result.notes),
                            timings=dict(self.run_folder.manifest.timings))

    def _model(self, mesh: RigMesh, options: RigOptions) -> Rig:
        """SkinTokens through the manager (loaded, or moved in, for the call); the tiny replica decodes briefly."""
        spec = self.manager.spec(RIGGING_ROLE)
        tiny = spec.options.get("replica") == "tiny"
        device = self.manager.device_of(RIGGING_ROLE)
        estimate = skintokens_costs.estimate_here(spec, device)
        self.progress("rig", 0, 1, f"SkinTokens is reading the mesh: {_expected(estimate, device)}")
        with self.manager.use(RIGGING_ROLE) as network:
            return rig_network(network, mesh, replace(options, short_decoding=tiny))


__all__ = ["RigInput", "RigResult", "RigRun", "rig_into", "run_rig"]
