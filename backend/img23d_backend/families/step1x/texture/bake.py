"""Six painted views into the mesh's UV texture, with upstream's weights, then img23d's hole filling.

Upstream (``Step1X3DTexturePipeline.bake_from_multiview``, ``method="fast"``) resizes each view to
2048 px, projects it into a 2048-texel atlas of an xatlas unwrap, weights every view's texels by
its view weight (1, 0.1, 0.5, 0.1, 0.05, 0.05) times the cosine between the surface normal and
the view direction to the 4th power, where the cosine is at least cos 75 degrees and the pixel is
not within 2/512 of the render size of the silhouette or of an edge of the depth image (Canny
30/80 on the depth scaled to 0..255), skips a view whose texels are more than 99% painted
already, averages by weight, and fills the rest by carrying colours over the mesh's vertices and
inpainting the atlas (Navier-Stokes, radius 3).

img23d does the same with its own code: its licence-clean rasterizer (``clean_raster``, written
from the textbook method) in upstream's cameras (``cameras``), the mesh's UVs (kept when it has
them, else xatlas's unwrap: ``uv.uvs``) and its own hole filling (``atlas_fill``:
pull-push inside each UV chart, then the gutter padded). Two differences, and why: the filling
is that textbook method, because upstream's (vertex colours carried over the mesh, then
inpainting) comes with Hunyuan3D's ``differentiable_renderer``; and upstream scatters each view's pixels into
the texels their UVs land on, which leaves texels that no pixel lands on wherever the atlas is
denser than the view, for the inpainting to guess; here each texel is located on the surface
(the atlas rasterized in UV space), projected into each view and reads the view there
(bilinear), when the view sees it: its depth within ``DEPTH_TOLERANCE_PIXELS`` of the depth the
view rendered there and that pixel not next to an edge. Every texel a view sees is painted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import trimesh
from PIL import Image

from ....clean_raster import interpolate, rasterize
from ....env.job_control import CancelToken
from ....uv.uvs import with_uvs
from .atlas_fill import OUTSIDE, Charts, face_charts, fill_atlas
from .cameras import ORTHO_HALF_EXTENT, Cameras, pixel_centre_scale, upstream_cameras
from .render import Surface, rasterize_view, surface

VIEW_WEIGHTS = (1.0, 0.1, 0.5, 0.1, 0.05, 0.05)
BAKE_EXP = 4
ANGLE_THRESHOLD = 75.0          # degrees between normal and view beyond which a view paints nothing
TEXTURE_SIZE = 2048
RENDER_SIZE = 2048
UNRELIABLE_BORDER = 2 / 512     # of the render size: the band kept off silhouettes and depth edges
CANNY_THRESHOLDS = (30, 80)
MOSTLY_PAINTED = 0.99
# How far (in pixels of the render) a texel's depth may lie behind the depth the view rendered at its
# pixel and still count as seen: a surface at the 75-degree limit changes depth by 3.7 pixels per
# pixel, and the nearest pixel's centre is up to 0.71 pixel away.
DEPTH_TOLERANCE_PIXELS = 3.0

ViewFn = Callable[[int, int], None]   # (views baked, views in all)


@dataclass(frozen=True)
class BakeSettings:
    """The atlas's and the projection's sizes and the views' weights; every default is upstream's."""

    texture_size: int = TEXTURE_SIZE
    render_size: int = RENDER_SIZE
    view_weights: tuple[float, ...] = VIEW_WEIGHTS
    bake_exp: int = BAKE_EXP
    angle_threshold: float = ANGLE_THRESHOLD

    def check(self, views: int) -> None:
        for name in ("texture_size", "render_size"):
            if getattr(self, name) < 2:
                raise ValueError(f"a {name} of {getattr(self, name)} is too small to bake into: use at least 2")
        if len(self.view_weights) != views:
            raise ValueError(f"{len(self.view_weights)} view weights for {views} views: give one weight per view")
        if any(not math.isfinite(w) or w < 0 for w in self.view_weights):
            raise ValueError("the view weights must be finite and not negative")


@dataclass(frozen=True)
class BakedTexture:
    """The filled base colour (row 0 is v = 1); which of its texels the UV layout covers and which of
    those a view painted (the rest were filled); the mesh (UVs as baked, its own vertices) with the
    texture as its material's base colour."""

    image: Image.Image
    covered: np.ndarray
    painted: np.ndarray
    mesh: trimesh.Trimesh


@dataclass(frozen=True)
class _Texels:
    index: torch.Tensor      # [K] flat index into the atlas's rasterized rows (row 0: v = 0)
    face: torch.Tensor       # [K] the face whose UV triangle covers the texel's centre
    points: torch.Tensor     # [K, 3] surface points in upstream's frame
    normals: torch.Tensor    # [K, 3] unit normals


Texels = _Texels   # what ``atlas_texels`` gives the texture sync


def bake_views(mesh: trimesh.Trimesh, views: Sequence[Image.Image], settings: BakeSettings = BakeSettings(),
               device: torch.device | str = "cpu", cameras: Cameras | None = None, on_view: ViewFn | None = None,
               cancel: CancelToken | None = None) -> BakedTexture:
    """``views`` (front, right, back, left, top, bottom, as ``generate_views`` makes them) baked into
    ``mesh``'s UV texture; a mesh without UVs is unwrapped first."""
    cameras = cameras or upstream_cameras()
    if len(views) != cameras.views:
        raise ValueError(f"{len(views)} views for {cameras.views} cameras: give one view per camera")
    if any(view.width != view.height for view in views):
        raise ValueError("the views must be square, as the cameras' frames are")
    settings.check(cameras.views)
    unwrapped = with_uvs(mesh)
    shape = surface(unwrapped, device)
    size = settings.texture_size
    texels = _texels(unwrapped, shape, size)
    colour = torch.zeros((texels.index.numel(), 3), device=shape.points.device)
    trust = torch.zeros(texels.index.numel(), device=shape.points.device)
    for number, view in enumerate(views):
        if cancel is not None:
            cancel.check()
        weight = _view_weights(shape, texels, cameras, number, settings)
        if not _mostly_painted(weight, trust):
            colour += _sample(view, texels.points, cameras.mvp[number], settings.render_size) * weight[:, None]
            trust += weight
        if on_view is not None:
            on_view(number + 1, cameras.views)
    atlas = torch.zeros((size * size, 3), device=colour.device)
    atlas[texels.index] = colour / trust.clamp_min(1e-8)[:, None]
    seen = torch.zeros(size * size, dtype=torch.bool, device=colour.device)
    seen[texels.index] = trust > 1e-8
    covered = torch.zeros_like(seen)
    covered[texels.index] = True
    # The atlas was rasterized with row 0 at v = 0; an image's row 0 is v = 1.
    texture = atlas.view(size, size, 3).flip(0).cpu().numpy()
    painted = seen.view(size, size).flip(0).cpu().numpy()
    covered_rows = covered.view(size, size).flip(0).cpu().numpy()
    if cancel is not None:
        cancel.check()
    image = Image.fromarray(fill_atlas(texture, painted, _charts(unwrapped, texels, size)), "RGB")
    return BakedTexture(image=image, covered=covered_rows, painted=painted, mesh=textured_mesh(unwrapped, image))


def textured_mesh(mesh: trimesh.Trimesh, texture: Image.Image) -> trimesh.Trimesh:
    """``mesh`` (with UVs) with ``texture`` as its base colour: the material img23d's paint gives."""
    material = trimesh.visual.material.PBRMaterial(
        name="painted", baseColorTexture=texture, baseColorFactor=[255, 255, 255, 255],
        metallicFactor=0.0, roughnessFactor=1.0)
    return trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces,
                           visual=trimesh.visual.TextureVisuals(uv=mesh.visual.uv, material=material), process=False)


def uv_mesh(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """``mesh`` with the UVs the bake paints into: its own, else img23d's unwrap (a new mesh)."""
    return with_uvs(mesh)


def atlas_texels(mesh: trimesh.Trimesh, shape: Surface, size: int) -> Texels:
    """The texels of a ``size`` x ``size`` atlas that ``mesh``'s UV triangles cover (``mesh`` with UVs,
    ``shape`` its ``render.surface``), located on the surface: the texture sync's latent atlas."""
    return _texels(mesh, shape, size)


def _texels(mesh: trimesh.Trimesh, shape: Surface, size: int) -> _Texels:
    """Every texel whose centre a UV triangle covers, located on the surface."""
    uv = torch.as_tensor(np.asarray(mesh.visual.uv), dtype=torch.float32, device=shape.points.device)
    clip = torch.cat([uv * 2 - 1, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], dim=1)
    findices, bary = rasterize((clip * pixel_centre_scale(size, size, uv.device))[None], shape.faces, (size, size))
    index = (findices.view(-1) > 0).nonzero().squeeze(1)
    points = interpolate(shape.points[None], findices, bary, shape.faces)[0].view(-1, 3)[index]
    normals = interpolate(shape.normals[None], findices, bary, shape.faces)[0].view(-1, 3)[index]
    return _Texels(index=index, face=findices.view(-1)[index].long() - 1, points=points,
                   normals=F.normalize(normals, dim=-1))


def _charts(mesh: trimesh.Trimesh, texels: _Texels, size: int) -> Charts:
    """The UV charts of ``mesh`` and the chart of each texel (image rows: row 0 is v = 1)."""
    face_chart, touching = face_charts(np.asarray(mesh.faces), np.asarray(mesh.vertices))
    texel_chart = np.full(size * size, OUTSIDE, dtype=np.int64)
    texel_chart[texels.index.cpu().numpy()] = face_chart[texels.face.cpu().numpy()]
    return Charts(face_chart=face_chart, texel_chart=texel_chart.reshape(size, size)[::-1].copy(), touching=touching)


def _view_weights(shape: Surface, texels: _Texels, cameras: Cameras, number: int,
                  settings: BakeSettings) -> torch.Tensor:
    """Each texel's weight in one view: view weight x cos^exp where the view sees it reliably."""
    size, device = settings.render_size, shape.points.device
    world_to_camera = torch.as_tensor(cameras.world_to_camera[number], dtype=torch.float32, device=device)
    findices, bary = rasterize_view(shape, cameras.mvp[number], size)
    visible = findices > 0
    depth = interpolate(_depth(shape.points, world_to_camera)[None, :, None], findices, bary, shape.faces)[0, ..., 0]
    reliable = _reliable(visible, depth, size)
    grid = _grid(texels.points, cameras.mvp[number])
    rendered_depth = _lookup(torch.where(reliable, depth, -math.inf), grid)
    tolerance = DEPTH_TOLERANCE_PIXELS * 2 * ORTHO_HALF_EXTENT / size
    seen = _depth(texels.points, world_to_camera) <= rendered_depth + tolerance
    towards = torch.as_tensor(cameras.towards_camera[number], dtype=torch.float32, device=device)
    cos = texels.normals @ towards
    cos = torch.where(seen & (cos >= math.cos(math.radians(settings.angle_threshold))), cos, torch.zeros_like(cos))
    return settings.view_weights[number] * cos ** settings.bake_exp


def _reliable(visible: torch.Tensor, depth: torch.Tensor, size: int) -> torch.Tensor:
    """Covered pixels away from the silhouette and from the depth image's edges, as upstream keeps."""
    border = int(UNRELIABLE_BORDER * size)
    if not bool(visible.any()):
        return visible
    near, far = depth[visible].min(), depth[visible].max()
    scaled = ((depth - near) / (far - near).clamp_min(1e-12)) * visible
    # Upstream's 8-bit depth image: truncated, not rounded.
    depth_image = (scaled.clamp(0, 1) * 255).cpu().numpy().astype(np.uint8)
    edges = torch.from_numpy(cv2.Canny(depth_image, *CANNY_THRESHOLDS) > 0).to(visible.device)
    return ~_grow(~visible, border) & ~_grow(edges, border)


def _grow(mask: torch.Tensor, border: int) -> torch.Tensor:
    """``mask`` dilated by a square of 2 x border + 1 pixels (upstream's box convolution, > 0)."""
    # A square's maximum is a row's then a column's: two thin pools cost a fraction of one square one.
    grown = F.max_pool2d(mask.float()[None, None], (1, 2 * border + 1), 1, (0, border))
    return F.max_pool2d(grown, (2 * border + 1, 1), 1, (border, 0))[0, 0] > 0


def _depth(points: torch.Tensor, world_to_camera: torch.Tensor) -> torch.Tensor:
    """Distance in front of the camera along its view direction."""
    return -(points @ world_to_camera[2, :3] + world_to_camera[2, 3])


def _grid(points: torch.Tensor, mvp: np.ndarray) -> torch.Tensor:
    """Texels' places in a view as ``grid_sample`` reads them: (x, y) in [-1, 1] over the pixels'
    outer edges, y = -1 at row 0 (nvdiffrast's convention, which upstream's views follow)."""
    matrix = torch.as_tensor(mvp, dtype=torch.float32, device=points.device)
    clip = points @ matrix[:2, :3].T + matrix[:2, 3]
    return clip.view(1, 1, -1, 2)


def _lookup(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """The nearest pixel of ``image`` [H, W] at each place of ``grid``; -inf outside the view."""
    picked = F.grid_sample(image[None, None].nan_to_num(neginf=-1e30), grid, mode="nearest",
                           padding_mode="zeros", align_corners=False)[0, 0, 0]
    inside = (grid[0, 0].abs() <= 1).all(dim=1)
    return torch.where(inside & (picked > -1e29), picked, torch.full_like(picked, -math.inf))


def _sample(view: Image.Image, points: torch.Tensor, mvp: np.ndarray, size: int) -> torch.Tensor:
    """The view's colour [K, 3] in [0, 1] at each texel, from the view resized as upstream resizes it."""
    resized = view.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).to(points.device)
    grid = _grid(points, mvp)
    colour = F.grid_sample(pixels.permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="border",
                           align_corners=False)
    return colour[0, :, 0].T


def _mostly_painted(weight: torch.Tensor, trust: torch.Tensor) -> bool:
    """Upstream's fast bake skips a view when more than 99% of the texels it sees are painted."""
    seen = weight > 0
    count = int(seen.sum())
    return count > 0 and int((seen & (trust > 0)).sum()) / count > MOSTLY_PAINTED
