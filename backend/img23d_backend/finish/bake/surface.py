"""The high mesh as a bake reads it: rays against it, its nearest point, its colour, metallicRoughness
texture and normal there.

Rays go through Embree (embreex, Intel's BVH ray tracer; one scene per high mesh, float32). The nearest
point, for texels whose rays meet nothing within the cage, is exact over the triangles whose centroids
are nearest the query (a k-d tree over centroids, then the closest point of each candidate triangle):
the fallback reads a point on the right part of the surface, not necessarily the very nearest one
when a huge triangle sits beside many small ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh
from scipy.spatial import cKDTree

from ...readers.colour_space import linear_to_srgb
from ...readers.meshes import base_colour_values, metallic_roughness_values

_CANDIDATES = 16  # triangles examined per fallback query (nearest centroids)


@dataclass
class SurfaceHits:
    """Per query: the high mesh's triangle (-1: none) and the barycentrics of the point in it."""

    face: np.ndarray  # (N,) int
    bary: np.ndarray  # (N, 3)


@dataclass
class ColourSource:
    """Where a high mesh keeps its colour: a texture read through its UVs, or one colour per vertex."""

    texture: np.ndarray | None  # (H, W, 3) float in 0..1, row 0 at v = 1
    uvs: np.ndarray | None  # (V, 2), v up
    vertex_colours: np.ndarray | None  # (V, 3) float in 0..1


def colour_source(mesh: trimesh.Trimesh) -> ColourSource | None:
    """The colour a bake can transfer from ``mesh``, or None when it has none.

    The result is sRGB-encoded, as the baked baseColor texture is. glTF's baseColorFactor is linear
    and multiplies the decoded texture, so a factor is applied in linear light and encoded again; a
    factor written into the texture unconverted would bake every such object darker than it looks.
    """
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        textured = visual.uv is not None and len(visual.uv) == len(mesh.vertices)
        texture = base_colour_values(visual.material, textured)
        if texture is None:
            return None
        uvs = np.asarray(visual.uv, dtype=np.float64) if textured else np.zeros((len(mesh.vertices), 2))
        return ColourSource(texture, uvs, None)
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind in ("vertex", "face"):
        # Vertex colours are linear here, as glTF's COLOR_0 is: trimesh reads a GLB's COLOR_0 into
        # them unconverted (floats times 255, normalised bytes as they are) and writes them back
        # unconverted (the run folder's high/<stem>.glb), so a glTF viewer shows them as linear.
        # The files that hold sRGB bytes (PLY, OBJ) are decoded to linear where they are read
        # (readers.meshes). Copied into the sRGB texture unconverted, they would bake darker.
        linear = np.asarray(visual.vertex_colors, dtype=np.float32)[:, :3] / 255.0
        return ColourSource(None, None, linear_to_srgb(linear).astype(np.float32))
    return None


def metallic_roughness_source(mesh: trimesh.Trimesh) -> ColourSource | None:
    """glTF's metallicRoughness texture of ``mesh`` as a bake reads it, or None without one.

    The texture holds linear data (roughness in G, metallic in B; R unused), so it is read as it is,
    with no sRGB decoding; the material's roughness and metallic factors multiply its channels, as a
    glTF reader multiplies them, so the baked texture carries them and the low mesh's factors are 1.
    """
    visual = mesh.visual
    if not isinstance(visual, trimesh.visual.TextureVisuals) or visual.uv is None \
            or len(visual.uv) != len(mesh.vertices):
        return None
    texture = metallic_roughness_values(visual.material)
    return None if texture is None else ColourSource(texture, np.asarray(visual.uv, dtype=np.float64), None)


def sample_bilinear(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear reads of ``texture`` at ``uv`` (v up), repeating outside 0..1 (glTF's default sampler)."""
    height, width = texture.shape[:2]
    x = uv[:, 0] * width - 0.5
    y = (1.0 - uv[:, 1]) * height - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    x1, y1 = (x0 + 1) % width, (y0 + 1) % height
    x0, y0 = x0 % width, y0 % height
    top = texture[y0, x0] * (1 - fx) + texture[y0, x1] * fx
    bottom = texture[y1, x0] * (1 - fx) + texture[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def closest_on_triangles(points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the closest point of triangle (a, b, c) to the point: (squared distance, barycentrics)."""
    ab, ac, ap = b - a, c - a, points - a
    d00, d01, d11 = np.sum(ab * ab, -1), np.sum(ab * ac, -1), np.sum(ac * ac, -1)
    d20, d21 = np.sum(ap * ab, -1), np.sum(ap * ac, -1)
    denom = d00 * d11 - d01 * d01
    safe = np.where(np.abs(denom) > 1e-30, denom, 1.0)
    v = (d11 * d20 - d01 * d21) / safe
    w = (d00 * d21 - d01 * d20) / safe
    bary = np.stack([1 - v - w, v, w], axis=-1)
    inside = (bary.min(axis=-1) >= 0) & (np.abs(denom) > 1e-30)
    best_bary = np.where(inside[..., None], bary, 0.0)
    best = np.where(inside, np.sum((bary[..., 1:2] * ab + bary[..., 2:3] * ac - ap) ** 2, -1), np.inf)
    corners = (a, b, c)
    for i, j in ((0, 1), (1, 2), (2, 0)):  # outside the face: the nearest point of an edge
        start, edge = corners[i], corners[j] - corners[i]
        length = np.sum(edge * edge, -1)
        t = np.clip(np.sum((points - start) * edge, -1) / np.where(length > 0, length, 1.0), 0.0, 1.0)
        dist = np.sum((start + t[..., None] * edge - points) ** 2, -1)
        better = ~inside & (dist < best)
        edge_bary = np.zeros(bary.shape)
        edge_bary[..., i] = 1 - t
        edge_bary[..., j] = t
        best = np.where(better, dist, best)
        best_bary = np.where(better[..., None], edge_bary, best_bary)
    return best, best_bary


class HighSurface:
    """Queries on one high mesh: rays, nearest points, colour and smooth normal at a surface point."""

    def __init__(self, mesh: trimesh.Trimesh) -> None:
        self.vertices = np.asarray(mesh.vertices, dtype=np.float64)
        self.faces = np.asarray(mesh.faces, dtype=np.int64)
        self.vertex_normals = np.asarray(mesh.vertex_normals, dtype=np.float64)
        self.colour = colour_source(mesh)
        self.metallic_roughness = metallic_roughness_source(mesh)
        self._scene = rtcore_scene.EmbreeScene()
        TriangleMesh(self._scene, self.vertices[self.faces].astype(np.float32))
        self._centroids: cKDTree | None = None

    def cast(self, origins: np.ndarray, directions: np.ndarray, distance: float) -> tuple[SurfaceHits, np.ndarray]:
        """First hit of each ray within ``distance``: the hits and their distances (inf: none)."""
        result = self._scene.run(np.ascontiguousarray(origins, dtype=np.float32),
                                 np.ascontiguousarray(directions, dtype=np.float32),
                                 dists=np.full(len(origins), distance, dtype=np.float32), output=1)
        face = np.asarray(result["primID"], dtype=np.int64)
        hit = np.asarray(result["geomID"]) >= 0
        face = np.where(hit, face, -1)
        u, v = np.asarray(result["u"], np.float64), np.asarray(result["v"], np.float64)
        bary = np.stack([1 - u - v, u, v], axis=1)  # Embree: p = (1 - u - v) p0 + u p1 + v p2
        return SurfaceHits(face, bary), np.where(hit, np.asarray(result["tfar"], np.float64), np.inf)

    def nearest(self, points: np.ndarray) -> SurfaceHits:
        """The nearest point of the surface among the triangles nearest by centroid."""
        if self._centroids is None:
            self._centroids = cKDTree(self.vertices[self.faces].mean(axis=1))
        k = min(_CANDIDATES, len(self.faces))
        _, candidates = self._centroids.query(points, k=k)
        candidates = candidates.reshape(len(points), k)
        tri = self.vertices[self.faces[candidates]]  # (N, k, 3, 3)
        dist, bary = closest_on_triangles(points[:, None, :], tri[:, :, 0], tri[:, :, 1], tri[:, :, 2])
        pick = np.argmin(dist, axis=1)
        rows = np.arange(len(points))
        return SurfaceHits(candidates[rows, pick], bary[rows, pick])

    def normals_at(self, hits: SurfaceHits) -> np.ndarray:
        """Smooth (interpolated vertex) normals at the hits, unit length."""
        normals = np.einsum("nk,nkd->nd", hits.bary, self.vertex_normals[self.faces[hits.face]])
        return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)

    def colours_at(self, hits: SurfaceHits) -> np.ndarray | None:
        """RGB in 0..1 at the hits, or None when the mesh has no colour."""
        return self._read(self.colour, hits)

    def metallic_roughness_at(self, hits: SurfaceHits) -> np.ndarray | None:
        """The metallicRoughness texture's RGB in 0..1 at the hits, or None when the mesh has none."""
        return self._read(self.metallic_roughness, hits)

    def _read(self, source: ColourSource | None, hits: SurfaceHits) -> np.ndarray | None:
        if source is None:
            return None
        corners = self.faces[hits.face]
        if source.vertex_colours is not None:
            return np.einsum("nk,nkd->nd", hits.bary, source.vertex_colours[corners])
        uv = np.einsum("nk,nkd->nd", hits.bary, source.uvs[corners])
        return sample_bilinear(source.texture, uv)
