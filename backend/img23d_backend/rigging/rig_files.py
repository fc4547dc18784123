"""A rig's files: the mesh read as a glTF the rig is written into, and the weights saved.

The mesh is read as a glTF (a GLB or glTF as it is; an OBJ or PLY as trimesh exports it, with its
material) and gathered into img23d's frame (``gltf.scene``: its one turn in), so the rigged GLB keeps the
input's materials, UVs and textures; the add-on's ``.npz`` is read as every job reads it
(``readers.artist_mesh``), already in img23d's frame, and made a glTF of its bare surface (its one turn out).
Every input is bounded before the work and each failure is one sentence: the checks every artist's mesh
passes (``readers.artist_mesh.check_surface``: finite positions, faces, vertices that exist, a surface within
reach), and a glTF's own (``gltf.scene``: its arrays, nodes and triangles); a text glTF's buffers and images
are read from the source's own folder only, and the outputs are no more readable than the files they came
from (``MeshRead.like``).
"""

from __future__ import annotations

import io
import os
import stat
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError

from ..gltf import scene as gltf_scene
from ..gltf.made_by import MadeBy
from ..gltf.writer import export_glb
from ..readers import obj_faces
from ..readers.artist_mesh import check_surface, load_artist_mesh
from ..readers.texture_files import CheckedTextures
from ..runs.folders import RunFolder
from .skin import Skin


@dataclass(frozen=True)
class MeshRead:
    """A mesh read for a rig: its glTF (one binary blob: the rigged GLB is written from it), its vertices
    gathered in img23d's frame, and the permission bits its outputs keep (those every file it was read from
    grants)."""

    gltf: Any
    mesh: gltf_scene.GltfMesh
    like: int


def read_mesh(source: Path, folder: RunFolder, stem: str, prefix: str = "") -> MeshRead:
    """``source`` copied into the run folder as ``<stem><suffix>``, read and checked; ``bad_request`` with one
    sentence (after ``prefix``, which names a further level of detail) for a file that cannot be rigged."""
    copy = folder.copy_in(f"{stem}{source.suffix.lower()}", source)
    if copy.suffix == ".npz":
        artist = load_artist_mesh(copy, name=source.name)
        gltf, mesh = gltf_scene.mesh_scene(artist.positions, artist.triangles)
        return MeshRead(gltf, mesh, _readable_by(source))
    gltf, like = _as_gltf(copy, folder, source, f"{stem}_as.glb", prefix)
    _check_unskinned(gltf, source, prefix)
    try:
        _mesh_per_node(gltf)   # its node transforms read (one of the wrong size is one sentence here)
        mesh = gltf_scene.gather_mesh(gltf)
    except gltf_scene.GltfUnreadable as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{prefix}{exc}") from exc
    check_surface(mesh.positions, mesh.triangles, np.dtype(np.float32), source.name)  # a glTF's are 32-bit
    return MeshRead(gltf, mesh, like)


def _check_unskinned(gltf: Any, source: Path, prefix: str) -> None:
    """``bad_request`` for a mesh that already has a skin. Its rest shape is its old joints' (a skinned node's own
    transform is ignored, glTF 2.0 section 3.7.3.3), which the gathering does not read: a Blender export with its
    armature at 0.01 scale was rigged at a hundredth of its size; and the new skin would stand beside the old one's
    joints and extra influences (JOINTS_1), which were kept."""
    skinned = [node.skin for node in gltf.nodes if node.mesh is not None and node.skin is not None]
    if skinned:
        skin = skinned[0]
        joints = len(gltf.skins[skin].joints or []) if isinstance(skin, int) and 0 <= skin < len(gltf.skins) else 0
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"{prefix}{source.name} is already skinned (to {joints:,} joints): rig the mesh without "
                            "its armature (exported without it, or the input file an earlier rig's run folder keeps)")


def _mesh_per_node(gltf: Any) -> None:
    """Each mesh node of the scene given a mesh of its own (sharing its accessors) where an earlier node used its
    mesh: an instanced mesh (a pair of eyes, four wheels) was skinned on its first node alone, the others left
    still (the validator's NODE_SKINNED_MESH_WITHOUT_SKIN). Each instance now gets its own weights."""
    seen: set[int] = set()
    for index in sorted(gltf_scene.world_matrices(gltf)):   # the nodes ``gather_mesh`` reads, in its order
        node = gltf.nodes[index]
        if node.mesh is None:
            continue
        if node.mesh in seen:
            gltf.meshes.append(deepcopy(gltf.meshes[node.mesh]))
            node.mesh = len(gltf.meshes) - 1
        seen.add(node.mesh)


def save_weights(target: Path, skin: Skin) -> None:
    """Each vertex's four strongest joints and weights, as the add-on reads them (``img23d_protocol.rig_weights``)."""
    with open(target, "wb") as handle:  # a file object: numpy adds no .npz to the temporary name
        np.savez(handle, joints=skin.joints.astype(np.int32), weights=skin.weights.astype(np.float32))


def _as_gltf(copy: Path, folder: RunFolder, source: Path, converted: str, prefix: str) -> tuple[Any, int]:
    """A GLB, glTF, OBJ or PLY as a pygltflib glTF (see the module's docstring), and the permission bits its
    outputs keep (a text glTF's relative URIs resolve from ``source``'s folder, only there: its copy in the
    run has nothing beside it)."""
    suffix = copy.suffix.lower()
    if suffix in (".glb", ".gltf"):
        try:
            found = gltf_scene.read(copy, source.parent, name=source.name)
        except gltf_scene.GltfUnreadable as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{prefix}{exc}") from exc
        return found.gltf, _readable_by(source, *found.files[1:])
    import trimesh

    try:
        # Its .mtl and textures beside the source (not in the run), its textures checked from their
        # headers first: as every mesh file is read (``readers.meshes``).
        resolver = CheckedTextures(trimesh.resolvers.FilePathResolver(source.parent), source)
        # An OBJ's negative indices and polygons as the format means them (``readers.obj_faces``).
        readable = io.BytesIO(obj_faces.readable(copy.read_bytes())) if suffix == ".obj" else str(copy)
        scene = trimesh.load(readable, file_type=suffix.lstrip("."), force="scene", process=False,
                             resolver=resolver)
    except Exception as exc:  # trimesh raises many kinds for a damaged file: all mean "cannot read it"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the mesh file {source.name} cannot be read",
                            f"{type(exc).__name__}: {exc}") from exc
    like = _readable_by(source)
    glb = folder.write_bytes_with(converted, lambda target: export_glb(scene, target, MadeBy()), like)
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
