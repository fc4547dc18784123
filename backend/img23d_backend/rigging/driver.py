"""A rig, whichever rigger makes it: a mesh file given a skeleton and skin weights, written as a GLB with a
glTF skin, in a run folder the caller made (``jobs/kinds/rig.py``'s, for the protocol's request, which the add-on
sends and the command line builds).

The mesh is read (``rig_files.read_mesh``), and rigged by the asked rigger (``table``): with a skeleton (a
file's skin joints, ``gltf_joints``, names kept; or the artist's bones) it binds that one, else one from
the shape alone. The rig goes into the input's own glTF (``gltf_skin``), so its materials, UVs and
textures stay; other levels of detail get the same skeleton and the weights carried to them (``transfer``).

A rigger that runs a model (``rigger.RigModel``) is registered with the job's model manager on first use
(``register_model``), checked before the run folder (``check_model``: its memory and time) and run
through the manager (``model_through``), never around it; where it is not registered (its files cannot be had),
a skeleton is given, or it fails on this mesh, the geometric binding stands in, said in one sentence. Every input is bounded before the work and every
failure is one sentence (``ProtocolError``); a cancel stops it between steps.

Written into the run folder: ``<name>_rigged.glb``, ``<name>_weights.npz`` (each vertex's four strongest
bones and weights, in the input's vertex order: what the add-on makes vertex groups of) and ``rig.json``
(the bones, where they came from, what was said, the seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from itertools import chain, count
from pathlib import Path
from typing import Any, Callable

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError, RigBone, duration

from ..env import failpoints
from ..env.job_control import CancelToken
from ..gltf.made_by import MadeBy, carried_from
from ..gltf.writer import write_gltf
from ..models.registry import default_tiny_root
from ..models.step_costs import device_label
from ..runs.folders import RunFolder
from ..runs.stems import safe_stem
from .gltf_joints import read_skeleton
from .gltf_skin import add_skin
from .limits import check_binding, check_joints
from .rig_files import read_mesh, save_weights
from .rigger import Rig, RigMesh, RigModel, RigOptions, RigTime
from .skeleton import BadSkeleton, Skeleton
from .skin import Skin
from .table import DEFAULT_WEIGHTS, RIGGERS, STAND_IN
from .transfer import transfer_skin

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
    also: list[Path] = field(default_factory=list)   # other levels of detail: the rig's weights carried to each
    # What made the rigged files (their ``asset``: ``gltf.made_by``): the input's models and the rigger's.
    made: MadeBy = field(default_factory=MadeBy)


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


def check_weights(weights: str, what: str) -> None:
    """``bad_request`` in one sentence unless ``weights`` names a rigger img23d has (``what``: how the caller
    names the choice)."""
    if weights not in RIGGERS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} is no rigger img23d has ({', '.join(RIGGERS)})")


def model_of(weights: str) -> RigModel | None:
    """The model the rigger ``weights`` runs (None for one that runs none: nothing of a model is imported)."""
    return RIGGERS[weights].model


def roles_used(weights: str, skeleton_given: bool) -> tuple[str, ...]:
    """The model manager's roles a rig uses: its rigger's model's, unless a skeleton is given (the geometric
    binding binds it)."""
    model = model_of(weights) if weights in RIGGERS and not skeleton_given else None
    return (model.role,) if model is not None else ()


def register_model(manager: Any, weights: str, models: str, tiny_root: Path | None, offline: bool = False) -> None:
    """The rigger's model registered with ``manager`` on first use: the tiny replica's (under ``tiny_root``) in
    the tiny set, the hub's in the default set; in another set none, nor the hub's when nothing may be downloaded
    and its files are not here (``offline``): the geometric binding stands in, said in the result's notes, where
    the preflight would otherwise weigh a model that cannot be read."""
    model = model_of(weights)
    if model is None or model.role in manager.roles:
        return
    if models == "tiny" and tiny_root is not None:
        spec = model.spec("tiny", tiny_root)
    elif models == "default" and not (offline and model.folder("default", default_tiny_root()) is None):
        spec = model.spec("default", default_tiny_root())
    else:
        return
    manager.register(spec, model.loader(spec))


def check_model(manager: Any, weights: str, accept_long: bool) -> None:
    """The registered model's preflight: one sentence when it cannot fit here, or would take an hour or more
    unaccepted; a rigger without a model needs none."""
    model = model_of(weights)
    if model is not None and model.role in manager.roles:
        model.preflight(manager.spec(model.role), manager.device_of(model.role), accept_long)


def model_through(manager: Any, weights: str, progress: Callable[[str], None]) -> ModelRun | None:
    """A job's way to the rigger's model: through ``manager`` (loaded, or moved in, for the call); None when it
    is not registered. The tiny replica decodes briefly."""
    model = model_of(weights)
    if model is None or model.role not in manager.roles:
        return None

    def run(mesh: RigMesh, options: RigOptions) -> Rig:
        spec, device = manager.spec(model.role), manager.device_of(model.role)
        progress(f"{model.name} is reading the mesh: {_expected(model.estimate(spec, device), device)}")
        with manager.use(model.role) as network:
            return model.rig_network(network, mesh, replace(options, short_decoding=spec.options.get("replica")
                                                            == "tiny"))
    return run


def rig_into(request: RigInput, folder: RunFolder, name: str, say: Callable[[str], None],
             run_model: ModelRun | None = None, cancel: CancelToken | None = None) -> RigResult:
    """Rig ``request.mesh`` into ``folder`` (see the module's docstring); ``ProtocolError`` with one sentence.
    ``run_model``: a job's way to the model (``model_through``); without it a model's rigger is replaced by the
    geometric binding, said in the notes."""
    started = time.perf_counter()
    check = cancel.check if cancel is not None else lambda: None
    read = read_mesh(request.mesh, folder, "input")
    mesh = read.mesh
    try:
        skeleton = read_skeleton(request.skeleton) if request.skeleton is not None else \
            _skeleton_of(request.bones) if request.bones else None
        if skeleton is not None:
            skeleton.check_lengths()
    except BadSkeleton as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, str(exc)) from exc
    surface, used = RigMesh(mesh.positions, mesh.triangles).surface()
    samples = check_binding(surface.positions, surface.triangles)
    say(f"read {len(mesh.positions):,} vertices and {len(mesh.triangles):,} triangles (the binding samples "
        f"{samples:,} points on them)")
    failpoints.hit("rig.bind")  # where a test holds a rig to stop it (``env.failpoints``)
    check()
    rig = _every_vertex(_rigged(request, surface, skeleton, run_model), surface, used, mesh.positions)
    say(f"bound {rig.skeleton.count} bones in {sum(rig.seconds.values()):.1f} s")
    check()
    add_skin(read.gltf, mesh, rig.skeleton, rig.skin)
    path = folder.write_bytes_with(f"{name}_rigged.glb", lambda target: write_gltf(read.gltf, target, request.made),
                                   read.like)
    weights = folder.write_bytes_with(f"{name}_weights.npz", lambda target: save_weights(target, rig.skin), read.like)
    taken = {path.name}
    lods = [_carried_to(other, index, folder, rig, mesh, say, read.like, taken, request.made)
            for index, other in enumerate(request.also, 1)]
    seconds = {**{k: round(v, 3) for k, v in rig.seconds.items()}, "total": round(time.perf_counter() - started, 3)}
    folder.manifest.timings.update(seconds)
    folder.write_json("rig.json", {**_record(rig, request, len(mesh.positions), seconds), "also_rigged": lods})
    return RigResult(run_dir=str(folder.root), rigged=folder.relative(path), weights=folder.relative(weights),
                     source=rig.source, bones=list(rig.skeleton.names), humanoid=rig.humanoid,
                     vertices=len(mesh.positions), notes=list(rig.notes), seconds=seconds, skeleton=rig.skeleton,
                     lods=lods)


def _carried_to(other: Path, index: int, folder: RunFolder, rig: Rig, source: Any, say: Callable[[str], None],
                source_like: int, taken: set[str], made: MadeBy) -> str:
    """Another level of detail of the mesh (``--also``), given the same skeleton and the weights carried to it
    by nearest-surface transfer (``transfer``): one skeleton for every level, each vertex weighted as the
    surface it sits on. Written as ``<its name>_rigged.glb``, or ``<its name>_lod<index>_rigged.glb`` where
    ``taken`` (the run's rigged files so far, this one added) holds that name: levels in folders of their own
    share file names (lod0/model.glb, lod1/model.glb), and the second wrote over the first's rig. No more
    readable than either mesh (``source_like``, the first's permission bits); its path relative to the run. Its
    ``asset`` names ``made``'s models and those the level's own file names."""
    made = carried_from(other).plus(made)
    read = read_mesh(other, folder, f"lod{index}")
    skin = transfer_skin(source.positions, source.triangles, rig.skin, rig.skeleton.count, read.mesh.positions)
    add_skin(read.gltf, read.mesh, rig.skeleton, skin)
    stem = safe_stem(other.stem)
    names = chain([f"{stem}_rigged.glb", f"{stem}_lod{index}_rigged.glb"],
                  (f"{stem}_lod{index}_{n}_rigged.glb" for n in count(2)))
    file_name = next(name for name in names if name not in taken)
    taken.add(file_name)
    path = folder.write_bytes_with(file_name, lambda target: write_gltf(read.gltf, target, made),
                                   read.like & source_like)
    say(f"carried the weights to {other.name} ({len(read.mesh.positions):,} vertices)")
    return folder.relative(path)


def _every_vertex(rig: Rig, surface: RigMesh, used: np.ndarray, positions: np.ndarray) -> Rig:
    """``rig`` of the surface's vertices (``RigMesh.surface``) with a row for each of ``positions``: a vertex no
    triangle uses takes the weights of the surface nearest it, as a level of detail's vertices do."""
    if len(used) == len(positions):
        return rig
    strays = np.setdiff1d(np.arange(len(positions)), used)
    carried = transfer_skin(surface.positions, surface.triangles, rig.skin, rig.skeleton.count, positions[strays])
    joints = np.zeros((len(positions), rig.skin.joints.shape[1]), rig.skin.joints.dtype)
    weights = np.zeros((len(positions), rig.skin.weights.shape[1]), rig.skin.weights.dtype)
    joints[used], weights[used] = rig.skin.joints, rig.skin.weights
    joints[strays], weights[strays] = carried.joints, carried.weights
    return replace(rig, skin=Skin(joints=joints, weights=weights))


def _rigged(request: RigInput, mesh: RigMesh, skeleton: Skeleton | None, run_model: ModelRun | None = None) -> Rig:
    """The rig by ``request.weights``; a model's rigger replaced by the geometric binding, said in one
    sentence, where its files cannot be had, a skeleton is given, or it fails on this mesh."""
    options, notes = RigOptions(request.humanoid_names, request.seed), []
    model = model_of(request.weights)
    if model is not None:
        if skeleton is not None:
            notes.append(f"{model.name} makes its own skeleton, so the given one was bound by the geometric binding")
        else:
            try:
                if run_model is not None:
                    return _with_notes(run_model(mesh, options), notes)
                hub = model.spec("default", default_tiny_root()).repo_id
                notes.append(f"{model.name} could not be read ({hub} is not downloaded and cannot be now), "
                             "so the geometric binding made the weights")
            except ProtocolError as exc:
                if exc.code is ErrorCode.CANCELLED:
                    raise
                notes.append(f"{model.name} could not be loaded ({exc.message}), so the geometric binding made the "
                             "weights")
            except (BadSkeleton, ValueError, RuntimeError) as exc:
                notes.append(f"{model.name} could not rig this mesh ({exc}), so the geometric binding made the "
                             "weights")
    try:
        return _with_notes(RIGGERS[STAND_IN].rig(mesh, skeleton, options), notes)
    except BadSkeleton as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, str(exc)) from exc


def _expected(estimate: RigTime, device: Any) -> str:
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


def _record(rig: Rig, request: RigInput, vertices: int, seconds: dict[str, float]) -> dict[str, Any]:
    skeleton = rig.skeleton
    return {"weights": request.weights, "skeleton_source": rig.source, "humanoid": rig.humanoid,
            "frame": "img23d's: Z up (the GLB itself is glTF's +Y up)", "vertices": vertices,
            "bones": [{"name": skeleton.names[j], "parent": skeleton.parents[j],
                       "head": [round(float(v), 6) for v in skeleton.heads[j]],
                       "tail": [round(float(v), 6) for v in skeleton.tails[j]]} for j in range(skeleton.count)],
            "notes": rig.notes, "seconds": seconds}
