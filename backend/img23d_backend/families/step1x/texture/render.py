"""The mesh's position, normal and coverage maps in upstream's six views, by the clean rasterizer.

As upstream's ``render(ctx, mesh, cameras, render_attr=False, normal_background=0.0)`` makes them
for ``run_ig2mv_pipeline`` (nvdiffrast there, ``clean_raster.rasterize`` here): per pixel, the surface
point seen, in upstream's frame (``cameras``), and the unit normal interpolated from the vertex
normals and normalised again. Vertex normals are upstream's ``TexturedMesh`` normals: the sum of the
unnormalised (so area-weighted) normals of the faces around a vertex, on the mesh with coincident
vertices merged (so a UV seam does not crease them), a degenerate one pointing up (+z). Background
pixels read zero in both maps, as nvdiffrast's interpolation leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import trimesh

from ....clean_raster import interpolate, rasterize
from .cameras import Cameras, Normalisation, normalisation, to_clip, upstream_cameras

MAP_SIZE = 768              # upstream's view size
_DEGENERATE = 1e-20         # squared length under which a vertex normal is upstream's default


@dataclass(frozen=True)
class Surface:
    """A mesh ready to rasterize in upstream's frame (all on one device)."""

    points: torch.Tensor        # [N, 3] float32, normalised
    faces: torch.Tensor         # [F, 3] int32
    normals: torch.Tensor       # [N, 3] float32, unit vertex normals
    normalisation: Normalisation


@dataclass(frozen=True)
class GeometryMaps:
    """What ``conditions.control_maps`` takes: [V, H, W, 3] twice and [V, H, W] (True: surface)."""

    positions: torch.Tensor
    normals: torch.Tensor
    masks: torch.Tensor


def surface(mesh: trimesh.Trimesh, device: torch.device | str = "cpu") -> Surface:
    """``mesh`` (y-up, any scale) normalised into upstream's frame, with its vertex normals."""
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError("the mesh to paint has no triangles")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ValueError("a triangle of the mesh refers to a vertex that does not exist")
    frame = normalisation(vertices)
    points = frame.apply(vertices)
    return Surface(points=torch.as_tensor(points, dtype=torch.float32, device=device),
                   faces=torch.as_tensor(faces, dtype=torch.int32, device=device),
                   normals=torch.as_tensor(merged_vertex_normals(points, faces), dtype=torch.float32, device=device),
                   normalisation=frame)


def merged_vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Upstream's vertex normals (see the module's note), one per vertex of the unmerged mesh."""
    # trimesh's merge_vertices rule, which upstream's load_mesh applies: equal to its merge digits.
    _, inverse = trimesh.grouping.unique_rows(points, digits=trimesh.util.decimal_to_digits(trimesh.tol.merge))
    merged_faces = inverse[faces]
    corners = points[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    sums = np.zeros((int(inverse.max()) + 1, 3))
    for corner in range(3):
        np.add.at(sums, merged_faces[:, corner], face_normals)
    lengths = np.linalg.norm(sums, axis=1, keepdims=True)
    unit = np.where(lengths ** 2 > _DEGENERATE, sums / np.maximum(lengths, 1e-30), [0.0, 0.0, 1.0])
    return unit[inverse]


def rasterize_view(shape: Surface, mvp: np.ndarray, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Face index + 1 (0: background) [size, size] and barycentrics [size, size, 3] for one view."""
    return rasterize(to_clip(shape.points, mvp, size, size), shape.faces, (size, size))


def render_maps(mesh: trimesh.Trimesh, size: int = MAP_SIZE, device: torch.device | str = "cpu",
                cameras: Cameras | None = None) -> GeometryMaps:
    """Position, normal and coverage maps of ``mesh`` in upstream's six views (or ``cameras``)."""
    if size < 2:
        raise ValueError(f"maps of {size} px cannot be rendered: use at least 2")
    shape = surface(mesh, device)
    cameras = cameras or upstream_cameras()
    positions, normals, masks = [], [], []
    for mvp in cameras.mvp:
        findices, bary = rasterize_view(shape, mvp, size)
        positions.append(interpolate(shape.points[None], findices, bary, shape.faces)[0])
        normal = interpolate(shape.normals[None], findices, bary, shape.faces)[0]
        normals.append(F.normalize(normal, dim=-1))
        masks.append(findices > 0)
    return GeometryMaps(positions=torch.stack(positions), normals=torch.stack(normals), masks=torch.stack(masks))
