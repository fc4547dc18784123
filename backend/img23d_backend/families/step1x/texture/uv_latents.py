"""The latent UV texture the texture sync works in: the six views' latents baked into it and rendered
back out of it, by img23d's renderer.

Written from the method of upstream's ``texture_sync/project.py`` (``UVProjection``; Step1X-3D,
Apache-2.0, itself SyncMVD's, MIT, with no licence header of its own; no Tencent code), which does
it with pytorch3d and cupy. Upstream, as here:

* the latent texture is a ``texture_size`` atlas (1536 texels) of four latent channels over the
  mesh's UVs, rendered into each view at latent resolution (view size / 8) with nearest sampling;
* baking a view finds, for every texel, the texel nearest to it in the atlas that one of the view's
  pixels lands on, and takes the mean of the pixels landing there (upstream: the rendering's
  gradient, normalised by each texel's pixel count, then a Voronoi fill by jump flooding; here:
  each pixel's UV gives its texel, and an exact Euclidean distance transform finds the nearest);
* each view's baked texture is weighted by ``visible x cos^exp``: ``visible`` where the texel lies
  on a triangle the view shows at 512 pixels for its 768-pixel views (grown by one texel; here two
  thirds of the view size, so 512 at upstream's), ``cos`` the cosine between the
  surface normal and the direction to the camera, baked as the view's values are; the weighted mean
  over the views, and every texel without weight takes its nearest weighted texel's value.

img23d's differences: the mesh's UVs are the bake's (its own, or img23d's unwrap made once for
both; upstream unwraps a second time for the sync); the texture is kept on the texels a UV
triangle covers (a pixel whose UV falls on another reads the nearest covered one; upstream fills
the whole atlas); the normals are ``render.surface``'s (upstream's bake's own); the views are the
six cameras the views are generated in (``cameras.upstream_cameras``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import trimesh
from scipy import ndimage

from .bake import atlas_texels
from .cameras import Cameras, upstream_cameras
from .render import Surface, rasterize_view, surface

# Upstream finds each view's visible triangles in 512-pixel renders of its 768-pixel views (latents of
# 96): 16 / 3 pixels per latent pixel.
VISIBILITY_PER_LATENT = 16 / 3
_EMPTY_WEIGHT = 1e-8      # upstream's guard against dividing by no weight


@dataclass(frozen=True)
class ViewMap:
    """How one view's pixels meet the atlas's texels (K covered texels, P pixels on the mesh)."""

    pixels: torch.Tensor       # [P] flat pixel index of each pixel on the mesh
    texels: torch.Tensor       # [P] the texel each reads when rendered (0..K-1)
    hit: torch.Tensor          # [P] which of the view's hit texels it lands on, for baking (0..H-1)
    hit_count: torch.Tensor    # [H] pixels landing on each hit texel
    nearest_hit: torch.Tensor  # [K] each texel's nearest hit texel (0..H-1)
    cos: torch.Tensor          # [K] the view's cosine, baked and filled as its values are
    visible: torch.Tensor      # [K] True: on a triangle the view shows (grown by one texel)


@dataclass(frozen=True)
class LatentAtlas:
    """The mesh's latent texture layout in the six views (``build_atlas``)."""

    texture_size: int
    latent_size: int
    texels: int                # K: the texels a UV triangle covers
    views: list[ViewMap]
    fill_from: torch.Tensor    # [K] each texel's nearest texel with weight (itself when it has some)

    @property
    def masks(self) -> torch.Tensor:
        """[V, 1, s, s] float: 1 where a view shows the mesh."""
        side = self.latent_size
        masks = torch.zeros((len(self.views), side * side), device=self.fill_from.device)
        for number, view in enumerate(self.views):
            masks[number, view.pixels] = 1.0
        return masks.view(len(self.views), 1, side, side)

    def render(self, texture: torch.Tensor) -> torch.Tensor:
        """``texture`` [K, C] seen in each view, nearest texel: [V, C, s, s], zero off the mesh."""
        side, channels = self.latent_size, texture.shape[1]
        views = torch.zeros((len(self.views), side * side, channels), dtype=texture.dtype, device=texture.device)
        for number, view in enumerate(self.views):
            views[number, view.pixels] = texture[view.texels]
        return views.permute(0, 2, 1).reshape(len(self.views), channels, side, side)

    def bake(self, views: torch.Tensor, exp: float) -> torch.Tensor:
        """The views [V, C, s, s] in the texture [K, C]: each view's values weighted by visible x cos^exp."""
        channels = views.shape[1]
        flat = views.reshape(len(self.views), channels, -1).permute(0, 2, 1)
        total = torch.zeros(self.texels, dtype=views.dtype, device=views.device)
        baked = torch.zeros((self.texels, channels), dtype=views.dtype, device=views.device)
        for number, view in enumerate(self.views):
            if view.pixels.numel() == 0:
                continue
            sums = torch.zeros((view.hit_count.numel(), channels), dtype=views.dtype, device=views.device)
            sums.index_add_(0, view.hit, flat[number, view.pixels])
            values = (sums / view.hit_count[:, None])[view.nearest_hit]
            weight = view.visible * view.cos ** exp
            baked += values * weight[:, None]
            total += weight
        return (baked / (total + _EMPTY_WEIGHT)[:, None])[self.fill_from]


def build_atlas(mesh: trimesh.Trimesh, latent_size: int, texture_size: int, device: torch.device | str = "cpu",
                cameras: Cameras | None = None) -> LatentAtlas:
    """``mesh`` (with UVs: ``bake.uv_mesh``) laid out as a ``texture_size`` latent atlas, seen by the
    six views at ``latent_size`` pixels."""
    if latent_size < 1 or texture_size < 2:
        raise ValueError(f"a latent atlas of {texture_size} texels for {latent_size}-pixel latents cannot be made")
    cameras = cameras or upstream_cameras()
    shape = surface(mesh, device)
    found = atlas_texels(mesh, shape, texture_size)
    count = found.index.numel()
    if count == 0:
        raise ValueError("the mesh's UVs cover no texel of the texture sync's atlas")
    index = found.index.cpu().numpy()
    slot_of = np.full(texture_size * texture_size, -1, dtype=np.int64)
    slot_of[index] = np.arange(count)
    covered = np.zeros(texture_size * texture_size, dtype=bool)
    covered[index] = True
    nearest_covered = slot_of[_nearest(covered, texture_size)]
    uv = torch.as_tensor(np.asarray(mesh.visual.uv), dtype=torch.float32, device=shape.points.device)
    views = [_view_map(shape, uv, found.face, index, nearest_covered, cameras, number, latent_size, texture_size)
             for number in range(cameras.views)]
    weighted = torch.zeros(count, dtype=torch.bool, device=shape.points.device)
    for view in views:
        weighted |= view.visible & (view.cos > 0)
    if bool(weighted.any()):
        grid = np.zeros(texture_size * texture_size, dtype=bool)
        grid[index[weighted.cpu().numpy()]] = True
        fill_from = slot_of[_nearest(grid, texture_size)[index]]
    else:
        fill_from = np.arange(count)
    return LatentAtlas(texture_size=texture_size, latent_size=latent_size, texels=count, views=views,
                       fill_from=torch.as_tensor(fill_from, device=shape.points.device))


def _view_map(shape: Surface, uv: torch.Tensor, texel_faces: torch.Tensor, index: np.ndarray,
              nearest_covered: np.ndarray, cameras: Cameras, number: int, side: int, size: int) -> ViewMap:
    """One view's pixels and texels (see the module's note)."""
    device = shape.points.device
    findices, bary = rasterize_view(shape, cameras.mvp[number], side)
    on_mesh = (findices.view(-1) > 0).nonzero().squeeze(1)
    pixel_uv = _blend(uv, shape.faces, findices, bary).view(-1, 2)[on_mesh]
    cells = (pixel_uv * size).floor().long().clamp(0, size - 1)
    grid = (cells[:, 1] * size + cells[:, 0]).cpu().numpy()   # the atlas's row 0 is v = 0
    texels = torch.as_tensor(nearest_covered[grid], device=device)
    hits, hit = torch.unique(texels, return_inverse=True)
    hit_count = torch.bincount(hit, minlength=hits.numel()).float()
    count = index.shape[0]
    if hits.numel():
        hit_grid = np.zeros(size * size, dtype=bool)
        hit_grid[index[hits.cpu().numpy()]] = True
        hit_of = np.full(size * size, -1, dtype=np.int64)
        hit_of[index[hits.cpu().numpy()]] = np.arange(hits.numel())
        nearest_hit = torch.as_tensor(hit_of[_nearest(hit_grid, size)[index]], device=device)
        cos = _cosines(shape, findices, bary, cameras, number).view(-1)[on_mesh]
        cos_sums = torch.zeros(hits.numel(), device=device).index_add_(0, hit, cos)
        baked_cos = (cos_sums / hit_count)[nearest_hit]
    else:   # the view does not show the mesh: it bakes nothing
        nearest_hit = torch.zeros(count, dtype=torch.long, device=device)
        baked_cos = torch.zeros(count, device=device)
    return ViewMap(pixels=on_mesh, texels=texels, hit=hit, hit_count=hit_count, nearest_hit=nearest_hit,
                   cos=baked_cos, visible=_visible(shape, texel_faces, index, cameras, number, side, size))


def _visible(shape: Surface, texel_faces: torch.Tensor, index: np.ndarray, cameras: Cameras, number: int,
             side: int, size: int) -> torch.Tensor:
    """The texels on a triangle the view shows (in a render of ``VISIBILITY_PER_LATENT`` pixels per
    latent pixel), grown by one texel (upstream's ``calculate_visible_triangle_mask``: a 3 x 3
    neighbourhood in the atlas)."""
    findices, _ = rasterize_view(shape, cameras.mvp[number], max(round(side * VISIBILITY_PER_LATENT), 2))
    shown = torch.zeros(shape.faces.shape[0] + 1, dtype=torch.bool, device=findices.device)
    shown[findices.long().view(-1)] = True
    grid = torch.zeros(size * size, device=findices.device)
    grid[torch.as_tensor(index, device=findices.device)] = shown[1:][texel_faces].float()
    grown = F.max_pool2d(grid.view(1, 1, size, size), 3, stride=1, padding=1).view(-1)
    return grown[torch.as_tensor(index, device=findices.device)] > 0


def _cosines(shape: Surface, findices: torch.Tensor, bary: torch.Tensor, cameras: Cameras, number: int) -> torch.Tensor:
    """[s, s]: the cosine between each pixel's normal and the direction from its point to the camera's
    centre, clamped to [0, 1] (upstream's ``get_cos_angle``). The centre is 1.8 away, not at infinity
    as the orthographic view direction would be: near a silhouette the cosine is 0 (no weight)."""
    points = _blend(shape.points, shape.faces, findices, bary)
    normals = F.normalize(_blend(shape.normals, shape.faces, findices, bary), dim=-1, eps=1e-6)
    centre = torch.as_tensor(np.linalg.inv(cameras.world_to_camera[number])[:3, 3], dtype=torch.float32,
                             device=points.device)
    towards = F.normalize(centre - points, dim=-1, eps=1e-6)
    return (towards * normals).sum(dim=-1).clamp(0, 1)


def _blend(values: torch.Tensor, faces: torch.Tensor, findices: torch.Tensor, bary: torch.Tensor) -> torch.Tensor:
    """Per-vertex ``values`` [N, C] at each pixel [s, s, C] by its barycentrics (zero off the mesh)."""
    corners = faces.long()[(findices.long() - 1).clamp_min(0)]   # [s, s, 3]
    blended = sum(bary[..., k:k + 1] * values[corners[..., k]] for k in range(3))
    return blended * (findices > 0)[..., None]


def _nearest(mask: np.ndarray, size: int) -> np.ndarray:
    """For every texel of a ``size`` x ``size`` atlas, the flat index of the nearest texel where
    ``mask`` (flat) is True: the exact Euclidean Voronoi diagram upstream approximates by jump flooding."""
    indices = ndimage.distance_transform_edt(~mask.reshape(size, size), return_distances=False, return_indices=True)
    return (indices[0].astype(np.int64) * size + indices[1]).reshape(-1)
