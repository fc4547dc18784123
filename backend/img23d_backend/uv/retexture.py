"""Re-texturing an artist's mesh: its topology and UVs stay; only a texture (and, for a mesh
without UVs, a new UV map) comes back.

The mesh arrives read and checked (``readers.artist_mesh.ArtistMesh``). UVs belong to loops, so a mesh is
painted as one vertex per distinct (vertex, UV) pair, exactly as a glTF export would split it, and the
artist's vertices are never touched.

Meshes above the face budget are painted through a proxy: a decimated copy is painted, then
its textures (the colour, and the metallicRoughness map where the material step made one) are
transferred onto the original's UV layout by projection (each texel of the original's atlas takes
the value of the nearest point on the proxy's surface, the same point for every map).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ..env.job_control import CancelToken
from ..readers.artist_mesh import ArtistMesh
from ..mesh.cleanup import Finish, clean_mesh
from .unwrap import Unwrapper


def unwrap(mesh: ArtistMesh, cancel: CancelToken | None = None) -> np.ndarray:
    """Per-loop UVs from the paint stage's unwrap for a mesh that has none, unwrapped in a worker process
    that a cancel (``cancel``) or the unwrap's time bound kills (``unwrap.Unwrapper``).

    The unwrap keeps the triangles' order, so corner (t, k) maps to loop ``triangle_loops[t, k]``.
    A loop shared by two triangles of one polygon takes its first triangle's UV (they differ
    only where the unwrap cut a seam across the polygon's diagonal).
    """
    with Unwrapper(cancel or CancelToken()) as worker:
        worker.submit("artist", mesh.positions, mesh.triangles)
        _, indices, uvs = worker.result("artist")
    corner_uvs = uvs[indices]                              # (T, 3, 2)
    loop_uvs = np.zeros((mesh.loop_count, 2), dtype=np.float64)
    order = mesh.triangle_loops.reshape(-1)[::-1]          # reversed: the first write wins below
    loop_uvs[order] = corner_uvs.reshape(-1, 2)[::-1]
    return loop_uvs


TILE_OVERHANG = 0.01  # of a tile: how far an island may reach past its tile's edge and still be in it (rounding)


def tile_uvs(loop_uvs: np.ndarray) -> np.ndarray | None:
    """The artist's UVs as they are painted: in the 0..1 tile the texture covers. A layout in another single tile
    (the Mirror modifier's UV offset, a layout moved a tile over) is moved into it by whole tiles, which a viewer
    (REPEAT, glTF's and Blender's default) shows the same: it was painted flat, from the texture's border. None for
    UVs with no area (all at one point: unwrapped anew, as a mesh without a UV map is). A layout over several tiles
    (``several_tiles``) is painted as it is."""
    finite = loop_uvs[np.isfinite(loop_uvs).all(axis=1)]
    if len(finite) == 0 or np.ptp(finite, axis=0).max() < 1e-9:
        return None
    tile = np.floor((finite.min(axis=0) + finite.max(axis=0)) / 2)  # the tile the layout's middle is in
    inside = bool((finite.min(axis=0) >= tile - TILE_OVERHANG).all() and
                  (finite.max(axis=0) <= tile + 1 + TILE_OVERHANG).all())
    return loop_uvs - tile if inside and tile.any() else loop_uvs


def several_tiles(loop_uvs: np.ndarray) -> bool:
    """Whether the layout spreads over more than one UV tile (UDIM, or islands laid out past the 0..1 square),
    each island's overhang of ``TILE_OVERHANG`` aside: one texture covers the 0..1 tile only."""
    finite = loop_uvs[np.isfinite(loop_uvs).all(axis=1)]
    return bool(len(finite)) and bool(((finite.min(axis=0) < -TILE_OVERHANG) |
                                       (finite.max(axis=0) > 1 + TILE_OVERHANG)).any())


def paintable(mesh: ArtistMesh, loop_uvs: np.ndarray) -> Any:
    """A trimesh with one vertex per distinct (vertex, UV) pair, in the artist's UV layout."""
    import trimesh

    corner_vertices = mesh.triangles.reshape(-1)
    corner_uvs = loop_uvs[mesh.triangle_loops.reshape(-1)]
    keys = np.concatenate([corner_vertices[:, None].astype(np.float64), corner_uvs], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    vertices = mesh.positions[unique[:, 0].astype(np.int64)]
    faces = inverse.reshape(-1, 3)
    painted = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    painted.visual = trimesh.visual.TextureVisuals(uv=unique[:, 1:])
    return painted


def proxy(mesh: ArtistMesh, face_budget: int) -> Any:
    """A decimated copy of the artist's mesh, every piece of it (no UVs: the paint stage unwraps it). Clean-up's
    default dropped the pieces under 0.5 % of the largest, an eye or a button, which then took the colour of
    the nearest surface painted."""
    import trimesh

    vertices, faces, _ = clean_mesh(mesh.positions, mesh.triangles, Finish(face_budget=face_budget, min_piece=0.0))
    if len(faces) == 0:
        raise ProtocolError(ErrorCode.SHAPE_FAILED, "the mesh could not be reduced to a paintable proxy")
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)


@dataclass(frozen=True)
class UVBake:
    """How a model family rasterizes a mesh's UV layout and fills the texels no sample reached: its
    own rasterizer and hole filling (the licence-clean family's are img23d's own; Hunyuan3D-2's are
    ports of Tencent's), so re-texturing through a proxy runs the painting family's code only."""

    # (clip-space vertices [1, N, 4], faces [F, 3], (H, W)) -> (face index + 1 [H, W], barycentrics [H, W, 3])
    rasterize: Callable[..., tuple[Any, Any]]
    # (per-vertex attributes [1, N, C], face indices, barycentrics, faces) -> [1, H, W, C]
    interpolate: Callable[..., Any]
    # (texture float [H, W, 3] in image rows, covered [H, W], the target mesh, face index + 1 per
    # texel in image rows) -> the texture, every texel coloured, uint8 [H, W, 3]
    fill: Callable[[np.ndarray, np.ndarray, Any, np.ndarray], np.ndarray]


def transfer_textures(target: Any, source: Any, images: Sequence[Image.Image], size: int, device: Any,
                      bake: UVBake) -> list[np.ndarray]:
    """Bake each of ``images`` (textures on ``source``'s UVs: its colour, its metallicRoughness map)
    into ``target``'s UV layout by nearest-surface projection.

    Each texel of the target atlas is located on the target surface (a rasterization in UV
    space, by the painting family's rasterizer); it takes the value each image has at the nearest
    of many points sampled over the source surface, the same point for every image, so the maps
    stay in register. Unreached texels are filled by the family's filling.
    """
    import torch
    from scipy.spatial import cKDTree

    uv = torch.as_tensor(np.asarray(target.visual.uv), dtype=torch.float32, device=device)
    clip = torch.cat([uv * 2 - 1, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], dim=1)
    faces = torch.as_tensor(np.asarray(target.faces), dtype=torch.int32, device=device)
    findices, bary = bake.rasterize(clip[None], faces, (size, size))
    covered = (findices > 0).cpu().numpy()
    positions = torch.as_tensor(np.asarray(target.vertices), dtype=torch.float32, device=device)
    texel_points = bake.interpolate(positions[None], findices, bary, faces)[0].cpu().numpy()[covered]

    samples, sample_uvs = _surface_samples(source, count=max(200_000, 4 * len(texel_points) // 10))
    _, nearest = cKDTree(samples).query(texel_points, workers=-1)
    # The rasterizer's row 0 is v = 0; image row 0 is v = 1.
    texel_faces = np.asarray(findices.cpu().numpy(), dtype=np.int64).reshape(size, size)[::-1].copy()
    flipped = covered[::-1].copy()
    transferred = []
    for source_image in images:
        image = np.asarray(source_image.convert("RGB"), dtype=np.uint8)
        height, width = image.shape[:2]
        su = np.clip((sample_uvs[nearest, 0] * (width - 1)).round().astype(np.int64), 0, width - 1)
        sv = np.clip(((1 - sample_uvs[nearest, 1]) * (height - 1)).round().astype(np.int64), 0, height - 1)
        texture = np.zeros((size, size, 3), dtype=np.float32)
        texture[covered] = image[sv, su] / 255.0
        transferred.append(bake.fill(texture[::-1].copy(), flipped.copy(), target, texel_faces))
    return transferred


def _surface_samples(mesh: Any, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Points spread over the surface with their UVs (vertices, plus area-weighted samples)."""
    import trimesh

    points, face_index = trimesh.sample.sample_surface(mesh, count, seed=0)
    faces = np.asarray(mesh.faces)[face_index]
    corners = np.asarray(mesh.vertices)[faces]
    bary = trimesh.triangles.points_to_barycentric(corners, points)
    uvs = np.einsum("nk,nkj->nj", bary, np.asarray(mesh.visual.uv)[faces])
    return (np.concatenate([points, np.asarray(mesh.vertices)]),
            np.concatenate([uvs, np.asarray(mesh.visual.uv)]))
