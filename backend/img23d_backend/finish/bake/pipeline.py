"""The bake: a high mesh's colour, material maps and shape onto a low mesh, as a colour texture, a
metallicRoughness texture (where the high mesh has one) and a normal map.

1. New UVs on the low mesh (xatlas, in the UV worker process the paint stage uses), packed for the
   bake size with ``padding`` texels between charts; the mesh is split at the seams. With quads, each
   quad's two triangles are kept in one chart and split along the diagonal MikkTSpace picks for the
   quad (``quads``), so that Blender's restored quads and the file's triangles share one frame.
2. Smooth normals (corner-angle weighted, Blender's weighting, across the seams except where a seam
   runs along a sharp edge) and MikkTSpace tangents on the split mesh: the GLB carries the normals
   and UVs, from which a renderer rebuilds these tangents (MikkTSpace, as glTF asks of a file
   without ``TANGENT``) and decodes the map in the basis it was baked in.
3. Every texel centre inside a triangle of the atlas is a point on the low surface with an
   interpolated normal. A ray along that normal and one against it, each as long as the cage distance,
   meet the high mesh; the nearer hit wins. A texel whose rays meet nothing reads the high mesh's
   nearest point instead (the fallback).
4. There, the high mesh's colour (its texture through its UVs, bilinear, or its vertex colours), its
   metallicRoughness texture (roughness in G, metallic in B: the material step's maps, read through
   the same hit, so both maps line up with the colour texel for texel) and its smooth normal, which
   the low mesh's tangent frame turns into the tangent-space normal map.
5. The charts are dilated ``padding`` texels into the gutter; the rest of the background is filled
   (colour and material maps with their mean, the normal map with the flat normal).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import trimesh
from PIL import Image

from ...env.job_control import CancelToken
from ...uv.unwrap import AtlasPacking, Unwrapper
from .dilate import dilate, fill_background
from .normal_map import FLAT, encode, tangent_space_normals
from .quads import keep_quads_in_one_chart, mikktspace_split, repack
from .surface import HighSurface, SurfaceHits
from .tangents import mesh_corner_tangents, split_by_corner_tangents
from .uv_raster import rasterize_uv

TEXEL_CHUNK = 1 << 18  # texels read and converted at a time: a few hundred MB at most


@dataclass(frozen=True)
class BakeSettings:
    size: int = 1024  # texels on a side of both maps
    cage: float = 0.02  # how far rays reach either side of the low surface, as a share of the high mesh's bounding-box diagonal
    padding: int = 8  # texels the charts are dilated into the gutter (and left between charts by the packing)
    hard_angle: float = 60.0  # UV seams along edges sharper than this (degrees) keep hard normals; 180: all smooth


@dataclass
class BakeStats:
    """Where the texels' values came from."""

    texels: int = 0  # texel centres inside the atlas's triangles
    by_ray: int = 0  # of those, read where a ray met the high mesh within the cage
    by_nearest: int = 0  # read at the high mesh's nearest point (no hit within the cage)
    filled: int = 0  # gutter texels written by the dilation
    quads_moved: int = 0  # quads the unwrap cut along their diagonal, made whole in one of their charts
    quads_alone: int = 0  # such quads with no room in either: made a chart of their own
    quads_split: int = 0  # such quads left across two charts (degenerate ones)


@dataclass
class BakeTimings:
    """Seconds spent in each step (``rays`` includes the fallback and reading colours and normals)."""

    unwrap: float = 0.0
    tangents: float = 0.0
    rasterize: float = 0.0
    rays: float = 0.0
    normal_map: float = 0.0
    fill: float = 0.0


@dataclass
class BakedMesh:
    """The low mesh split at its UV seams, with what a GLB needs beside it."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    uvs: np.ndarray  # (V, 2): v up (trimesh's convention; glTF stores 1 - v)
    normals: np.ndarray  # (V, 3) unit: the normals the tangents and the normal map were made with
    tangents: np.ndarray  # (V, 4): MikkTSpace tangent and bitangent sign, as glTF's TANGENT
    base_color: Image.Image | None  # RGB, or None when the high mesh had no colour
    normal: Image.Image  # RGB, tangent space, +Y up
    seconds: float
    stats: BakeStats = field(default_factory=BakeStats)
    timings: BakeTimings = field(default_factory=BakeTimings)
    # glTF's metallicRoughness (R unused, G roughness, B metallic; linear), or None when the high
    # mesh had none; the high material's factors are multiplied in
    metallic_roughness: Image.Image | None = None


def smooth_normals(vertices: np.ndarray, faces: np.ndarray, hard_angle: float = 180.0) -> np.ndarray:
    """Unit vertex normals weighted by corner angle (as Blender's), shared across UV seams.

    Vertices at one position (copies made by the seams) share one normal, unless the seam runs along
    a sharp edge: where a copy's own normal is more than ``hard_angle`` / 2 degrees from the shared
    one, each copy keeps its own (a hard edge, at no cost in vertices since the seam split them).
    """
    _, welded = np.unique(vertices, axis=0, return_inverse=True)
    welded = welded.reshape(-1)
    corners = vertices[faces]
    face_normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    face_normal /= np.maximum(np.linalg.norm(face_normal, axis=1, keepdims=True), 1e-30)
    own = np.zeros((len(vertices), 3))
    for i in range(3):
        e1 = corners[:, (i + 1) % 3] - corners[:, i]
        e2 = corners[:, (i + 2) % 3] - corners[:, i]
        cos = np.sum(e1 * e2, 1) / np.maximum(np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1), 1e-30)
        np.add.at(own, faces[:, i], np.arccos(np.clip(cos, -1, 1))[:, None] * face_normal)
    shared = np.zeros((welded.max() + 1, 3))
    np.add.at(shared, welded, own)
    own = _unit(own)
    shared = _unit(shared)[welded]
    cos_limit = np.cos(np.radians(hard_angle / 2.0)) if hard_angle < 180.0 else -np.inf
    hard = np.zeros(welded.max() + 1, dtype=bool)
    np.logical_or.at(hard, welded, np.sum(own * shared, axis=1) < cos_limit)
    return np.where(hard[welded][:, None], own, shared)


def _unit(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.where(length > 1e-30, vectors / np.maximum(length, 1e-30), (0.0, 0.0, 1.0))


def _transfer(surface: HighSurface, points: np.ndarray, directions: np.ndarray,
              reach: float) -> tuple[SurfaceHits, np.ndarray]:
    """The high mesh's point for each texel: nearest ray hit either way within ``reach``, else nearest point."""
    out_hits, out_dist = surface.cast(points, directions, reach)
    in_hits, in_dist = surface.cast(points, -directions, reach)
    inward = in_dist < out_dist
    face = np.where(inward, in_hits.face, out_hits.face)
    bary = np.where(inward[:, None], in_hits.bary, out_hits.bary)
    missed = face < 0
    if missed.any():
        nearest = surface.nearest(points[missed])
        face[missed] = nearest.face
        bary[missed] = nearest.bary
    return SurfaceHits(face, bary), ~missed


def _image(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8), "RGB")


def bake(high: trimesh.Trimesh, low_vertices: np.ndarray, low_faces: np.ndarray,
         settings: BakeSettings = BakeSettings(), cancel: CancelToken | None = None,
         unwrapper: Unwrapper | None = None, quads: int = 0) -> BakedMesh:
    """Bake ``high``'s colour and metallicRoughness texture (each if it has one) and normals onto the
    low mesh, on new UVs.

    ``unwrapper``: a job's UV worker to reuse; without one, the bake starts its own for the call.
    ``quads``: how many leading triangle pairs of ``low_faces`` are quads (quad k: triangles 2k and
    2k + 1); each stays in one chart and is split along the diagonal MikkTSpace picks for it
    (``quads.py``), in the same places of the baked faces.
    """
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    low_vertices = np.asarray(low_vertices, dtype=np.float64)
    low_faces = np.asarray(low_faces, dtype=np.int64)
    if len(low_faces) == 0 or len(high.faces) == 0:
        raise ValueError("a bake needs faces on both meshes")
    timings, stats = BakeTimings(), BakeStats()
    packing = AtlasPacking(resolution=settings.size, padding=settings.padding)

    mark = time.perf_counter()
    own = unwrapper is None
    worker = unwrapper if unwrapper is not None else Unwrapper(cancel)
    key = f"bake-{time.monotonic_ns()}"  # apart from whatever else a job's worker holds
    try:
        worker.submit(key, low_vertices, low_faces, packing)
        surface = HighSurface(high)  # the ray tracer's scene is built while the worker unwraps
        vertices, faces, uvs = worker.result(key)
    finally:
        if own:
            worker.close()
    if quads:
        vertices, faces, uvs, charts = keep_quads_in_one_chart(vertices, faces, uvs, low_faces, quads)
        stats.quads_moved, stats.quads_alone, stats.quads_split = charts.moved, charts.alone, charts.split
        if charts.moved or charts.alone:
            vertices, faces, uvs = repack(vertices, faces, uvs, packing)
        faces = mikktspace_split(vertices, faces, uvs, quads)
    timings.unwrap = time.perf_counter() - mark
    cancel.check()

    mark = time.perf_counter()
    normals = smooth_normals(vertices, faces, settings.hard_angle)
    source, faces, tangents = split_by_corner_tangents(faces, mesh_corner_tangents(vertices, faces, normals, uvs))
    vertices, normals, uvs = vertices[source], normals[source], uvs[source]
    timings.tangents = time.perf_counter() - mark

    mark = time.perf_counter()
    cover = rasterize_uv(uvs, faces, settings.size)
    stats.texels = len(cover.face)
    timings.rasterize = time.perf_counter() - mark
    cancel.check()

    size = settings.size
    reach = settings.cage * float(np.linalg.norm(np.ptp(surface.vertices, axis=0)))
    normal_image = np.zeros((size, size, 3), dtype=np.float32)
    colour_image = np.zeros((size, size, 3), dtype=np.float32) if surface.colour is not None else None
    material_image = np.zeros((size, size, 3), dtype=np.float32) if surface.metallic_roughness is not None else None
    for start in range(0, stats.texels, TEXEL_CHUNK):  # in chunks: memory stays flat at any size
        part = slice(start, start + TEXEL_CHUNK)
        rows, cols, bary, corners = cover.rows[part], cover.cols[part], cover.bary[part], faces[cover.face[part]]
        mark = time.perf_counter()
        points = np.einsum("nk,nkd->nd", bary, vertices[corners])
        directions = np.einsum("nk,nkd->nd", bary, normals[corners])
        directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
        hits, by_ray = _transfer(surface, points, directions, reach)
        stats.by_ray += int(by_ray.sum())
        colours = surface.colours_at(hits)
        if colour_image is not None and colours is not None:
            colour_image[rows, cols] = colours
        material = surface.metallic_roughness_at(hits)
        if material_image is not None and material is not None:
            material_image[rows, cols] = material
        world_normals = surface.normals_at(hits)
        timings.rays += time.perf_counter() - mark
        cancel.check()
        mark = time.perf_counter()
        local = tangent_space_normals(world_normals, bary, normals[corners], tangents[corners])
        normal_image[rows, cols] = encode(local)
        timings.normal_map += time.perf_counter() - mark
    stats.by_nearest = stats.texels - stats.by_ray

    mark = time.perf_counter()
    written = cover.mask()
    normal_image, grown = dilate(normal_image, written, settings.padding)
    stats.filled = int(grown.sum() - written.sum())
    normal_image = fill_background(normal_image, grown, FLAT)
    base_color = None
    if colour_image is not None:
        colour_image, grown = dilate(colour_image, written, settings.padding)
        base_color = _image(fill_background(colour_image, grown))
    metallic_roughness = None
    if material_image is not None:
        material_image, grown = dilate(material_image, written, settings.padding)
        metallic_roughness = _image(fill_background(material_image, grown))
    timings.fill = time.perf_counter() - mark

    return BakedMesh(vertices=vertices, faces=faces, uvs=uvs, normals=normals, tangents=tangents,
                     base_color=base_color, normal=_image(normal_image), metallic_roughness=metallic_roughness,
                     seconds=time.perf_counter() - started, stats=stats, timings=timings)
