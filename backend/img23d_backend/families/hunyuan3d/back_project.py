"""One painted view back-projected into the texture atlas: hy3dgen's ``MeshRender.back_project``, with its
two box filters made as cheap as the test they feed.

hy3dgen 2.0.2 (``texgen/differentiable_renderer/mesh_render.py``) rasterizes the view, keeps each pixel
that faces the camera within 75 degrees, then drops the pixels near the silhouette and near the depth
map's edges (Canny): each of those two masks is grown by a square of ``2 x bake_unreliable_kernel_size +
1`` pixels (17 at a 2048 px render) with a convolution by a box of ones, and only whether the sum is
above zero is read. On a CPU those two single-channel convolutions were three quarters of a view's bake
(8.3 of 11.2 s at 2048 px, `bench/paint_bake.py`). Both inputs are never negative (one minus a 0/1 mask,
and Canny's 0/1 edges), so "the box's sum is above zero" is exactly "the box's largest value is above
zero": whether any pixel of the box is set, which is the mask dilated by the box (OpenCV's). Every
other step is hy3dgen's own, through its own helpers; the result is the same texture and weights
(``tests/backend/families/test_back_project.py`` compares the two), except where hy3dgen's fails: a view
that sees no surface (a card edge-on) adds nothing, where its ``min()`` of no depth raises, and a view of a
surface all at one depth has no depth edges, where its division by the depth range makes NaN.

What a view's bake takes from the mesh and the camera alone (``view_geometry``: the trusted pixels, where
they land in the atlas, their weight) is found once per camera, from the condition renders' rasterization,
and kept for both bakes of a painted object (its colour, its material maps); ``put_view`` puts a view's
values and weights into the atlas in one accumulation, for the texels it reaches alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import trimesh


def grown(mask: torch.Tensor, kernel: int) -> torch.Tensor:
    """Where a ``kernel`` x ``kernel`` box centred on the pixel holds a value above zero ([H, W, 1] in,
    0/1 float out): hy3dgen's ``conv2d(mask, ones) > 0`` for a mask that is never negative. OpenCV's
    dilation by the box, on the host (a few milliseconds for a 2048 px view, where running sums with
    PyTorch took 0.4 s a mask on the development CPU); a device's mask makes the round trip, as hy3dgen's
    depth edges (OpenCV's Canny) already do."""
    import cv2  # here, not at the top: the bake's, not the family's

    hits = (mask[..., 0] > 0).to(torch.uint8).cpu().numpy()
    box = cv2.dilate(hits, np.ones((kernel, kernel), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return torch.from_numpy(box).to(device=mask.device, dtype=torch.float32).unsqueeze(-1)


@dataclass(frozen=True)
class ViewGeometry:
    """What one view's back-projection takes from the mesh and the camera alone, whatever the picture: the
    trusted pixels (flat indices into the render), where each lands in the atlas (u, v in [0, 1], rows first
    as hy3dgen's grid put reads them) and its weight (the cosine to the camera). Kept on the CPU: a job's
    second bake of the same views (the material maps) reuses it instead of rasterizing again."""

    keep: torch.Tensor      # [K] long
    uv: torch.Tensor        # [K, 2] float
    cosine: torch.Tensor    # [K, 1] float
    resolution: tuple[int, int]


def back_project(render: Any, image: torch.Tensor, elevation: float, azimuth: float,
                 geometry: ViewGeometry | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The view ``image`` ([H, W, C] in [0, 1], the render's size) from the camera at ``elevation`` and
    ``azimuth`` put into the atlas: (texture [T, T, C], weight [T, T, 1]), each texel's colour times its
    weight (the cosine to the camera where the pixel is trusted) summed, as hy3dgen's ``linear`` bake.
    ``geometry``: the camera's ``view_geometry`` made before (for this render and size), else made here."""
    image = image.float().to(render.device)
    if geometry is None:
        geometry = view_geometry(render, elevation, azimuth, tuple(image.shape[:2]))
    height, width = render.texture_size[1], render.texture_size[0]
    channels = image.shape[-1]
    scratch = image.new_zeros(height * width, channels + 2)
    texels, colour, weight = put_view(scratch, width, geometry, image, render.device)
    result = image.new_zeros(height * width, channels + 1)
    result[texels] = torch.cat([colour, weight], dim=1)
    result = result.view(height, width, channels + 1)
    return result[..., :channels], result[..., channels:]


def put_view(scratch: torch.Tensor, width: int, geometry: ViewGeometry, image: torch.Tensor,
             device: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The view ``image`` put into the atlas as ``back_project`` puts it, for the texels it reaches alone:
    (their flat indices [T], their colour [T, C], their weight [T, 1]). ``scratch`` ([texels, C + 2], zeros)
    is the accumulator, zeros again afterwards: a bake of six views into a 2048 px atlas touches a fraction
    of its texels each, and passes over the whole atlas were most of a view's bake on a CPU."""
    channels = image.shape[-1]
    values = image.contiguous().view(-1, channels)[geometry.keep.to(device)]
    corners, shares = _corners(scratch.shape[0] // width, width, geometry.uv.to(device))
    data = torch.cat([values, geometry.cosine.to(device), torch.ones_like(values[:, :1])], dim=1)
    # hy3dgen's linear_grid_put_2d, of the colours and of the weights at once: its arithmetic in its order
    # (corner 00, 01, 10, 11), into one accumulator of the values, the weights and the count.
    for corner, share in zip(corners, shares):
        scratch.index_add_(0, corner, data * share.unsqueeze(1))
    texels = torch.nonzero(scratch[:, -1] > 0)[:, 0]
    gathered = scratch[texels]
    scratch[texels] = 0.0
    averaged = gathered[:, :-1] / gathered[:, -1:]
    return texels, averaged[:, :channels], averaged[:, channels:]


def _corners(height: int, width: int, coords: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The four texels around each of ``coords`` ([N, 2] in [0, 1], rows first) as flat indices, and each
    one's bilinear share, as hy3dgen's grid put places them (its corner clamped inside the atlas)."""
    place = coords * torch.tensor([height - 1, width - 1], dtype=torch.float32, device=coords.device)
    row, col = place[:, 0].floor().long().clamp_(0, height - 2), place[:, 1].floor().long().clamp_(0, width - 2)
    down, right = place[:, 0] - row.float(), place[:, 1] - col.float()
    base = row * width + col
    return ([base, base + 1, base + width, base + width + 1],
            [(1 - down) * (1 - right), (1 - down) * right, down * (1 - right), down * right])


def view_geometry(render: Any, elevation: float, azimuth: float, resolution: tuple[int, int],
                  raster: torch.Tensor | None = None) -> ViewGeometry:
    """Which pixels of the camera's view at ``resolution`` are trusted, where they land in the atlas and their
    weight: hy3dgen's ``back_project`` up to the picture's colours. ``raster``: the camera's rasterization at
    ``resolution``, where the caller has it (the condition renders'), else made here."""
    from hy3dgen.texgen.differentiable_renderer.camera_utils import get_mv_matrix, transform_pos

    view = get_mv_matrix(elev=elevation, azim=azimuth, camera_distance=render.camera_distance, center=None)
    camera = transform_pos(view, render.vtx_pos, keepdim=True)
    clip = transform_pos(render.camera_proj_mat, camera)
    camera = camera[:, :3] / camera[:, 3:4]
    corners = [camera[render.pos_idx[:, k], :] for k in range(3)]
    face_normals = F.normalize(torch.cross(corners[1] - corners[0], corners[2] - corners[0], dim=-1), dim=-1)
    vertex_normals = trimesh.geometry.mean_vertex_normals(vertex_count=render.vtx_pos.shape[0],
                                                          faces=render.pos_idx.cpu(), face_normals=face_normals.cpu())
    vertex_normals = torch.from_numpy(vertex_normals).float().to(render.device).contiguous()
    depth_of_vertex = camera[:, 2].reshape(1, -1, 1).contiguous()
    if raster is None:
        raster, _ = render.raster_rasterize(clip, render.pos_idx, resolution=resolution)
    visible = torch.clamp(raster[..., -1:], 0, 1)[0, ...]
    # The normal and the depth in one interpolation (the same faces and weights; each channel blended alone).
    both = render.raster_interpolate(torch.cat([vertex_normals[None], depth_of_vertex], dim=-1), raster,
                                     render.pos_idx)[0][0, ...]
    normal, depth = both[..., :3], both[..., 3:]
    uv, _ = render.raster_interpolate(render.vtx_uv[None, ...], raster, render.uv_idx)
    seen = depth[visible > 0]
    if not seen.numel():  # the view sees no surface (a card edge-on): it adds nothing (hy3dgen's min() raises)
        return ViewGeometry(torch.zeros(0, dtype=torch.long), torch.zeros(0, 2), torch.zeros(0, 1), _side(resolution))
    span = seen.max() - seen.min()
    # A surface all at one depth (a card face-on) has no depth edges; hy3dgen's division makes NaN there.
    depth_image = (depth - seen.min()) / span * visible if span > 0 else torch.zeros_like(depth)
    sketch = render.render_sketch_from_depth(depth_image)
    # hy3dgen's cosine similarity with the look direction (0, 0, -1), as its own arithmetic: the normal's
    # -z over its length (PyTorch's cosine_similarity took a fifth of a view's bake on a CPU to say it).
    cosine = -normal[..., 2:3] / normal.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    cosine[cosine < np.cos(render.bake_angle_thres / 180 * np.pi)] = 0
    kernel = render.bake_unreliable_kernel_size * 2 + 1
    trusted = (1.0 - grown(1.0 - visible.float(), kernel)) * (grown(sketch, kernel) < 0.5)
    cosine[trusted == 0] = 0
    keep = torch.nonzero((trusted != 0).view(-1))[:, 0]
    uv = uv.squeeze(0).contiguous().view(-1, 2)[keep][..., [1, 0]]
    return ViewGeometry(keep.cpu(), uv.cpu(), cosine.contiguous().view(-1, 1)[keep].cpu(), _side(resolution))


def _side(resolution: Any) -> tuple[int, int]:
    return int(resolution[0]), int(resolution[1])


__all__ = ["ViewGeometry", "back_project", "grown", "put_view", "view_geometry"]
