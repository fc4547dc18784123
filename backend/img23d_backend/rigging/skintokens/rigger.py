"""SkinTokens as a rigger (``--weights model``): where its files are, and one mesh rigged through it.

The files: ``VAST-AI/SkinTokens`` on the hub (MIT), only the two the model needs (``config.FILES``: the
skeleton-and-skin checkpoint, which holds the skin VAE too, and Qwen3-0.6B's config), pinned to the commit
and the checkpoint's SHA-256 that a public port pins after checking its outputs against upstream's
(``config.REVISION``, ``config.CHECKPOINT_SHA256``: chris-straka/skintokens' ``fetch-weights.sh``); the hub
is out of reach from here, so neither was checked against the hub itself. The download is checked against
the pinned digest as every pinned file is (``models.file_checks``). The tiny set's replica
(``replica.write_replica``: random weights, the real layout) is written under the tiny models' folder on
first use.

The frame: the model reads +Y up (DESIGN.md: "54,000 area-weighted surface samples with normals in [-1, 1],
+Y up"); img23d's meshes are Z up (Blender's axes), so the mesh is turned with ``gltf.frame.to_gltf`` before
the model reads it and the joints turned back with ``from_gltf``: the one place the turn is made.
The names: a humanoid's as Mixamo names them (``names.humanoid_names``), others by chain.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...models.hub import resolve_model_dir
from ...models.placement import LoadedModel
from ...models.specs import ModelSpec
from ...gltf.frame import from_gltf, to_gltf
from ..names import chain_names, humanoid_names
from ..rigger import Rig, RigMesh, RigOptions
from ..skeleton import BadSkeleton, Skeleton
from ..skin import Skin
from .config import FILES
from .decoding import DecodingSettings
from .facts import ROLE, ROW, SPEC
from .loader import load_skintokens, loaded_network
from .pipeline import RigSettings, rig_mesh
from .replica import write_replica

NAME = "SkinTokens"
TINY_FOLDER, TINY_BYTES = ROW.tiny_folder, ROW.tiny_bytes
# The tiny replica's decoding: two beams and a short sequence (its random weights never choose the end
# sooner than the grammar forces it); the real model decodes as upstream does (``DecodingSettings``).
TINY_DECODING = DecodingSettings(beams=2, max_new_tokens=48)
TINY_SAMPLES = 2_000


def model_folder(models: str, tiny_root: Path) -> Path | None:
    """The folder SkinTokens is read from: the tiny replica (written on first use), or the hub's copy (its two
    files downloaded first where the hub may be reached: MIT, no consent asked); None when they cannot be had
    (offline and not in the cache, the hub out of reach): the caller says so and binds without it."""
    if models == "tiny":
        folder = tiny_root / TINY_FOLDER
        if not all((folder / name).is_file() for name in FILES):
            _write_tiny(folder)
        return folder
    try:
        return resolve_model_dir(SPEC)
    except Exception:  # not downloadable now (offline, no network, damaged): the geometric binding stands in
        return None


def spec_for(models: str, tiny_root: Path) -> ModelSpec:
    """The spec the model manager loads SkinTokens by: the hub's, or the tiny replica's folder (written now
    if it is not there yet)."""
    if models != "tiny":
        return SPEC
    model_folder("tiny", tiny_root)
    return ROW.tiny_spec(tiny_root)


def full_size_spec(root: Path) -> ModelSpec:
    """Its full-size replica under ``root`` (``replica.REPLICA``): the hub's layout and size, random weights, so
    no pinned digest."""
    return ModelSpec(role=ROLE, repo_id=f"full-size/{TINY_FOLDER}", local_path=Path(root) / TINY_FOLDER,
                     allow_patterns=FILES, exact_files=True, size_bytes=SPEC.size_bytes)


def load(folder: Path, device: Any) -> LoadedModel:
    """The manager's loader: bf16 on a GPU, as upstream runs it; float32 on a CPU."""
    dtype = torch.bfloat16 if getattr(device, "type", str(device)) == "cuda" else torch.float32
    return load_skintokens(Path(folder), device, dtype)


def loader(spec: ModelSpec) -> Any:  # -> models.handles.Loader
    return load


def _write_tiny(folder: Path) -> None:
    """The replica written beside its final place and renamed into it: never half a folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write_replica(staging)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def rig(mesh: RigMesh, skeleton: Skeleton | None, options: RigOptions) -> Rig:
    """The skeleton and weights SkinTokens predicts for ``mesh``, read from ``options.model_folder`` on the CPU
    (the Rigger interface's call, for a Python caller with the files at hand; every job goes through the model
    manager: ``rig_network``). A given skeleton is the
    geometric binding's to bind: the model makes its own."""
    if skeleton is not None:
        raise BadSkeleton("SkinTokens makes its own skeleton: a given one is bound by the geometric binding")
    if options.model_folder is None:
        raise BadSkeleton("SkinTokens' files are not here")
    started = time.perf_counter()
    network = loaded_network(load_skintokens(Path(options.model_folder), "cpu", torch.float32))
    loaded = time.perf_counter()
    made = rig_network(network, mesh, options)
    return replace(made, seconds={"load": loaded - started, **made.seconds})


def rig_network(network: Any, mesh: RigMesh, options: RigOptions) -> Rig:
    """``mesh`` rigged by a loaded TokenRig (see the module's docstring for the frame and the names)."""
    started = time.perf_counter()
    tiny = options.short_decoding
    settings = RigSettings(decoding=DecodingSettings(**{**(TINY_DECODING.__dict__ if tiny else {}),
                                                        "seed": options.seed}),
                           samples=TINY_SAMPLES if tiny else RigSettings().samples)
    made = rig_mesh(network, to_gltf(mesh.positions).astype(np.float32), mesh.triangles, settings)
    joints, tails = from_gltf(made.joints), from_gltf(made.tails)
    tails = np.where(np.linalg.norm(tails - joints, axis=1, keepdims=True) > 1e-6, tails,
                     joints + [0.0, 0.0, 1e-3 * float(np.ptp(mesh.positions, axis=0).max())])
    plain = Skeleton(tuple(f"joint_{j:02d}" for j in range(len(joints))), joints, tails,
                     tuple(int(p) for p in made.parents))
    human = humanoid_names(plain) if options.humanoid_names else None
    names = human or chain_names(plain)
    skeleton = Skeleton(tuple(names), joints, tails, plain.parents)
    skin = Skin(joints=np.asarray(made.vertex_joints, np.int64), weights=np.asarray(made.vertex_weights, np.float32))
    return Rig(skeleton=skeleton, skin=skin, source=NAME, humanoid=human is not None,
               seconds={"model": time.perf_counter() - started})


__all__ = ["NAME", "ROLE", "SPEC", "TINY_FOLDER", "load", "loader", "model_folder", "full_size_spec", "rig", "rig_network", "spec_for"]
