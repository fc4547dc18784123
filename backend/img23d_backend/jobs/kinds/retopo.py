"""Retopo: an artist's mesh remade as triangles or quads, its look baked onto it; no model runs.

The mesh arrives as Re-texture's (``readers/artist_mesh.py``: ``positions`` in Blender's axes,
``triangles``, ``triangle_loops``, optional ``loop_uvs``), with what colour it has beside it:
``base_color``, (H, W, 3 or 4) uint8, the image its UVs read, rows from the top as an image file
stores them (Blender's ``image.pixels`` start at the bottom: the add-on flips them), and beside it
perhaps ``metallic_roughness``, (H, W, 3) uint8, glTF's metallicRoughness texture on the same UVs
(roughness in G, metallic in B; the bake carries it to the new mesh as it carries the colour), or
``vertex_colors``, (V, 3 or 4) uint8, one per position, linear (as glTF's COLOR_0). The mesh as it came is the high mesh
(``high/<name>.glb``, the ``high_mesh`` artifact), the finished one ``<name>.glb`` (``mesh``),
both in glTF's axes as every GLB of a run, written by ``finishing`` as a Generate's are.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from img23d_protocol import (Artifact, ArtifactKind, ErrorCode, ProtocolError, RetopoJobResult, RetopoRequest,
                             validate_targets)
from PIL import Image

from ...finish.materials import FaceMaterials
from ...gltf.frame import to_gltf
from ...finish.retopo import NothingToRemesh
from ...readers.artist_mesh import ArtistMesh, load_artist_mesh
from ...readers.mesh_file import read_arrays
from ...runs.folders import TargetRecord
from ...uv import retexture
from ..base import JobRun
from ..context import EngineContext
from ..steps.finishing import AS_GENERATED, finish_object

INPUT = "input_mesh.npz"
# A colour image may be larger than the mesh's arrays: 8192 x 8192 RGBA.
COLOUR_LIMITS = {"base_color": 8192 * 8192 * 4, "metallic_roughness": 8192 * 8192 * 4}


class RetopoRun(JobRun[RetopoRequest]):
    """Remake a mesh's topology and bake its colour and shape onto the new one."""

    kind = "retopo"

    @classmethod
    def check_request(cls, request: RetopoRequest) -> None:
        validate_targets([request.name], looked_for=False)  # it names files, as a target does
        if request.options.topology == AS_GENERATED:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "retopo remakes a mesh as 'triangles' or 'quads': "
                                                       "topology 'as-generated' would leave it as it is")
        if not request.mesh:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "no mesh given")
        if not Path(request.mesh).is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no mesh file at {request.mesh}")

    @classmethod
    def check_models(cls, request: RetopoRequest, engine: EngineContext) -> None:
        """Any model set will do: nothing is loaded."""

    @classmethod
    def roles_used(cls, request: RetopoRequest) -> tuple[str, ...]:
        return ()  # pure geometry: no model is loaded, so no licence is asked for

    @classmethod
    def folder_label(cls, request: RetopoRequest) -> str:
        return f"{request.name}-retopo"

    def body(self) -> RetopoJobResult:
        [name] = validate_targets([self.request.name], looked_for=False)
        with self.stage("load"):
            copy = self.run_folder.copy_in(INPUT, self.request.mesh)
            artist = load_artist_mesh(copy, COLOUR_LIMITS)
            high, geometry = high_mesh(artist)
        record = TargetRecord(target=name, stem=self.run_folder.unique_stem(name, 1), seed=self.options.seed,
                              faces=artist.face_count, vertices=int(len(artist.positions)))
        manifest = self.run_folder.manifest
        manifest.targets, manifest.records = [name], [record]
        self.run_folder.save_manifest()
        fields: dict[str, Any] = {"target": name}
        with self.stage("finish"):
            try:
                finished = finish_object(self, record, high, None, fields, geometry,
                                         face_materials(copy, artist.positions, artist.triangles))
            except NothingToRemesh as exc:
                raise ProtocolError(ErrorCode.BAD_REQUEST, str(exc)) from None
        record.mesh, record.finish = self.run_folder.relative(finished.low), finished.record
        record.textured, record.status = finished.record.coloured, "done"
        record.timings["finish"] = finished.record.seconds
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.MESH, path=str(finished.low), **fields))
        return RetopoJobResult(run_dir=str(self.run_folder.root), manifest=str(self.run_folder.path("manifest.json")),
                               mesh=str(finished.low), high_mesh=str(finished.high), finish=finished.record,
                               targets=(replace(record),), timings=manifest.timings,
                               seed=self.options.seed)


def high_mesh(artist: ArtistMesh) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """The artist's mesh in glTF's axes: as the bake reads it (split along its UV seams, with its
    colour), and as one surface for the remeshing."""
    base_color, maps, vertex_colors = _colours(artist)
    positions = artist.positions
    geometry = _welded(positions, artist.triangles)
    if base_color is not None and artist.loop_uvs is not None:
        high = retexture.paintable(artist, artist.loop_uvs)
        high.vertices = to_gltf(np.asarray(high.vertices))
        material = trimesh.visual.material.PBRMaterial(baseColorTexture=base_color, metallicRoughnessTexture=maps,
                                                       metallicFactor=0.0 if maps is None else 1.0,
                                                       roughnessFactor=1.0)
        high.visual = trimesh.visual.TextureVisuals(uv=high.visual.uv, material=material)
        return high, geometry
    high = trimesh.Trimesh(to_gltf(positions), artist.triangles, process=False)
    if vertex_colors is not None:
        high.visual = trimesh.visual.ColorVisuals(high, vertex_colors=vertex_colors)
    return high, geometry


def face_materials(path: Path, positions: np.ndarray, triangles: np.ndarray) -> FaceMaterials | None:
    """The mesh file's materials, when it has several (``material_names`` and ``triangle_materials``,
    as ``readers.meshes`` writes them), with its triangles in glTF's axes; a defect is one sentence."""
    # Its types, shapes and that each index names a material: checked there, its textures within the sizes the
    # finish reads (without them a 4096 px colour map was refused, naming the array 'base_color').
    arrays = read_arrays(path, COLOUR_LIMITS)
    names, of_face = arrays.get("material_names"), arrays.get("triangle_materials")
    if names is None or of_face is None:
        return None
    if of_face.shape != (len(triangles),):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the mesh file's triangle_materials must give each triangle "
                                                   "the index of one of its material_names")
    return FaceMaterials(tuple(str(name) for name in names), to_gltf(positions), np.asarray(triangles, np.int64),
                         of_face.astype(np.int64))


def _welded(positions: np.ndarray, triangles: np.ndarray) -> trimesh.Trimesh:
    """One surface for the remeshing: copies of a position (a GLB or OBJ splits its vertices along
    UV seams, which Instant Meshes would take for holes) become one vertex; a triangle that
    collapses is dropped."""
    unique, index = np.unique(np.asarray(positions, dtype=np.float64), axis=0, return_inverse=True)
    faces = index.reshape(-1)[triangles]
    whole = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    return trimesh.Trimesh(to_gltf(unique), faces[whole], process=False)


def _colours(artist: ArtistMesh) -> tuple[Image.Image | None, Image.Image | None, np.ndarray | None]:
    """The mesh file's ``base_color`` and ``metallic_roughness`` images (as RGB) and ``vertex_colors``:
    their types and shapes were checked when it was read (``img23d_protocol.mesh_file``)."""
    images = [None if array is None else Image.fromarray(np.ascontiguousarray(array[:, :, :3]), "RGB")
              for array in (artist.base_color, artist.metallic_roughness)]
    return images[0], images[1], artist.vertex_colors
