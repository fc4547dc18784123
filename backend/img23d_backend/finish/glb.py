"""A finished (low) object as a GLB: what the run folder and the add-on read (docs/protocol.md).

One mesh, triangles only (glTF has no quads: with quads, quad k is triangles 2k and 2k + 1, split as
the bake split them, along the diagonal MikkTSpace picks for the quad), with ``TEXCOORD_0`` from the
bake's new UVs, ``NORMAL`` the very normals the normal map was baked against, and one material:
``baseColorTexture`` when the high mesh had colour, ``metallicRoughnessTexture`` (factors 1.0) when it
had material maps, ``normalTexture`` always (tangent space, MikkTSpace, +Y up: glTF's own
convention). No ``TANGENT``: glTF asks a reader of a file without one to compute MikkTSpace from the
normals and UVs, which gives the bake's own tangents (Blender's importer reads no tangents anyway). The glTF mesh's ``extras`` hold
``{"img23d_quads": Q}`` (0 for triangles): Blender's importer turns a mesh's extras into custom
properties of its mesh data, which is how the add-on learns how many leading triangle pairs to join.

trimesh's glTF exporter writes all of it (``normalTexture`` from its PBR material, the mesh's
``metadata`` as the mesh's extras, ``NORMAL`` with ``include_normals``); ``read_glb_json`` reads that
JSON back for checks.

An input of several materials (``materials.Slots``: its faces in order of material) is written with
one primitive per material, each named as the input's and carrying the same baked maps, in the one
mesh: Blender's importer makes one object with a slot per material, its faces in the primitives'
order, so the leading triangle pairs are still the quads. trimesh writes a scene's geometries as
meshes of their own, so those meshes' primitives are gathered into the first (the GLB's JSON chunk
rewritten; its binary chunk is copied as it is). ``gltf.writer`` writes both, and the ``asset`` that says what
made the file (``gltf.made_by``).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from img23d_protocol.glb_images import read_glb

from ..gltf.made_by import MadeBy
from ..gltf.writer import export_glb, write_glb_document
from .bake import BakedMesh
from .materials import Slots

QUADS_EXTRA = "img23d_quads"
_GLB_MAGIC, _JSON_CHUNK = 0x46546C67, 0x4E4F534A


def finished_trimesh(baked: BakedMesh, quads: int, name: str = "img23d_baked") -> trimesh.Trimesh:
    """The low mesh with its maps, as trimesh exports it to glTF (see the module's docstring)."""
    if not 0 <= quads <= len(baked.faces) // 2:
        raise ValueError(f"{quads} quads cannot lead {len(baked.faces)} triangles")
    maps = baked.metallic_roughness is not None
    material = trimesh.visual.material.PBRMaterial(
        name=name, baseColorTexture=baked.base_color, normalTexture=baked.normal,
        metallicRoughnessTexture=baked.metallic_roughness,
        # With maps, factors of 1 let the texture rule (the bake multiplied the high mesh's factors in);
        # without, no metal and a rough surface: what a baked colour means (the painted meshes' default).
        metallicFactor=1.0 if maps else 0.0, roughnessFactor=1.0,
        baseColorFactor=None if baked.base_color is not None else [200, 200, 200, 255])
    visual = trimesh.visual.TextureVisuals(uv=np.asarray(baked.uvs, dtype=np.float64), material=material)
    return trimesh.Trimesh(vertices=np.asarray(baked.vertices, dtype=np.float64),
                           faces=np.asarray(baked.faces, dtype=np.int64),
                           vertex_normals=np.asarray(baked.normals, dtype=np.float64), visual=visual,
                           metadata={QUADS_EXTRA: int(quads)}, process=False)


def write_finished_glb(path: Path, baked: BakedMesh, quads: int, made: MadeBy, slots: Slots | None = None) -> None:
    """Write the finished object to ``path`` (the run folder's atomic writer gives a temporary one), saying
    what ``made`` it; with ``slots`` of several materials, one primitive per material (see the module's
    docstring)."""
    whole = finished_trimesh(baked, quads)
    if slots is None or len(slots.names) < 2:
        export_glb(whole, path, made, include_normals=True)
        return
    if sum(slots.counts) != len(baked.faces):
        raise ValueError(f"material slots of {sum(slots.counts)} triangles for {len(baked.faces)}")
    scene = trimesh.Scene()
    ends = np.cumsum(slots.counts)
    for index, (name, end, count) in enumerate(zip(slots.names, ends, slots.counts)):
        part = whole.submesh([np.arange(end - count, end)], append=True)
        part.visual.material = finished_trimesh(baked, 0, name).visual.material
        part.metadata = {}
        scene.add_geometry(part, geom_name=f"part{index}", node_name=f"part{index}")
    export_glb(scene, path, made, include_normals=True)
    _one_mesh(path, quads)


def _one_mesh(path: Path, quads: int) -> None:
    """Gather the GLB's meshes' primitives into its first mesh, its only node (see the module's docstring)."""
    with open(path, "rb") as handle:
        gltf, binary = read_glb(handle, os.fstat(handle.fileno()).st_size, Path(path).name)
        gltf["meshes"] = [{"name": "img23d_finished", "primitives": [primitive for mesh in gltf["meshes"]
                                                                     for primitive in mesh["primitives"]],
                           "extras": {QUADS_EXTRA: int(quads)}}]
        gltf["nodes"] = [{"name": "img23d_finished", "mesh": 0}]
        gltf["scenes"] = [{"nodes": [0]}]
        whole = binary.read(0, binary.length) if binary is not None else None
    write_glb_document(path, gltf, whole)


def read_glb_json(path: Path) -> dict[str, Any]:
    """The JSON chunk of a GLB (binary glTF 2.0: a 12-byte header, then the JSON chunk first)."""
    data = Path(path).read_bytes()
    magic, version, _ = struct.unpack_from("<III", data, 0)
    length, kind = struct.unpack_from("<II", data, 12)
    if magic != _GLB_MAGIC or version != 2 or kind != _JSON_CHUNK:
        raise ValueError(f"{Path(path).name} is not a binary glTF 2.0 file")
    return json.loads(data[20:20 + length].decode("utf-8"))
