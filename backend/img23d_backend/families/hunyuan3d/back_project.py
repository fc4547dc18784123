"""One painted view back-projected into the texture atlas: hy3dgen's ``MeshRender.back_project``, with its
two box filters made as cheap as the test they feed.

hy3dgen 2.0.2 (``texgen/differentiable_renderer/mesh_render.py``) rasterizes the view, keeps each pixel
that faces the camera within 75 degrees, then drops the pixels near the silhouette and near the depth
map's edges (Canny): each of those two masks is grown by a square of ``2 x bake_unreliable_kernel_size +
1`` pixels (17 at a 2048 px render) with a convolution by a box of ones, and only whether the sum is
above zero is read. On a CPU those two single-channel convolutions were three quarters of a view's bake
(8.3 of 11.2 s at 2048 px, `bench/paint_bake.py`). Both inputs are never negative (one minus a 0/1 mask,
and Canny's 0/1 edges), so "the box's sum is above zero" is exactly "the box's largest value is above
zero": whether any pixel of the box is set, counted with running sums along the rows, then the
columns, in a few passes whatever the box's size. Every
other step is hy3dgen's own, through its own helpers; the result is the same texture and weights
(``tests/backend/families/test_back_project.py`` compares the two), except where hy3dgen's fails: a view
that sees no surface (a card edge-on) adds nothing, where its ``min()`` of no depth raises, and a view of a
surface all at one depth has no depth edges, where its division by the depth range makes NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import trimesh


def grown(mask: torch.Tensor, kernel: int) -> torch.Tensor:
    """Where a ``kernel`` x ``kernel`` box centred on the pixel holds a value above zero ([H, W, 1] in,
    0/1 float out): hy3dgen's ``conv2d(mask, ones) > 0`` for a mask that is never negative. Counted in
    integers with running sums along the rows, then the columns: exact, and a few passes over the map
    whatever the box's size."""
    pad = kernel // 2
    hits = (mask[..., 0] > 0).to(torch.int32)
    across = _window_counts(hits, pad, dim=1) > 0
    return (_window_counts(across.to(torch.int32), pad, dim=0) > 0).float().unsqueeze(-1)


def _window_counts(hits: torch.Tensor, pad: int, dim: int) -> torch.Tensor:
    """How many hits lie within ``pad`` of each place along ``dim`` (zeros past the ends)."""
    size, width = hits.shape[dim], 2 * pad + 1
    shape = list(hits.shape)
    shape[dim] = pad + 1
    before = hits.new_zeros(shape)
    shape[dim] = pad
    running = torch.cumsum(torch.cat([before, hits, hits.new_zeros(shape)], dim=dim), dim=dim, dtype=torch.int32)
    return running.narrow(dim, width, size) - running.narrow(dim, 0, size)


def back_project(render: Any, image: torch.Tensor, elevation: float, azimuth: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The view ``image`` ([H, W, C] in [0, 1], the render's size) from the camera at ``elevation`` and
    ``azimuth`` put into the atlas: (texture [T, T, C], weight [T, T, 1]), each texel's colour times its
    weight (the cosine to the camera where the pixel is trusted) summed, as hy3dgen's ``linear`` bake."""
    from hy3dgen.texgen.differentiable_renderer.camera_utils import get_mv_matrix, transform_pos
    from hy3dgen.texgen.differentiable_renderer.mesh_render import linear_grid_put_2d

    image = image.float().to(render.device)
    resolution, channels = image.shape[:2], image.shape[-1]
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
    raster, _ = render.raster_rasterize(clip, render.pos_idx, resolution=resolution)
    visible = torch.clamp(raster[..., -1:], 0, 1)[0, ...]
    normal = render.raster_interpolate(vertex_normals[None, ...], raster, render.pos_idx)[0][0, ...]
    uv, _ = render.raster_interpolate(render.vtx_uv[None, ...], raster, render.uv_idx)
    depth = render.raster_interpolate(depth_of_vertex, raster, render.pos_idx)[0][0, ...]
    height, width = render.texture_size[1], render.texture_size[0]
    seen = depth[visible > 0]
    if not seen.numel():  # the view sees no surface (a card edge-on): it adds nothing (hy3dgen's min() raises)
        return image.new_zeros(height, width, channels), image.new_zeros(height, width, 1)
    span = seen.max() - seen.min()
    # A surface all at one depth (a card face-on) has no depth edges; hy3dgen's division makes NaN there.
    depth_image = (depth - seen.min()) / span * visible if span > 0 else torch.zeros_like(depth)
    sketch = render.render_sketch_from_depth(depth_image)
    lookat = torch.tensor([[0, 0, -1]], device=render.device)
    cosine = F.cosine_similarity(lookat, normal.view(-1, 3)).view(normal.shape[0], normal.shape[1], 1)
    cosine[cosine < np.cos(render.bake_angle_thres / 180 * np.pi)] = 0
    kernel = render.bake_unreliable_kernel_size * 2 + 1
    trusted = (1.0 - grown(1.0 - visible.float(), kernel)) * (grown(sketch, kernel) < 0.5)
    cosine[trusted == 0] = 0
    keep = (trusted != 0).view(-1)
    uv = uv.squeeze(0).contiguous().view(-1, 2)[keep][..., [1, 0]]
    texture = linear_grid_put_2d(height, width, uv, image.contiguous().view(-1, channels)[keep])
    weight = linear_grid_put_2d(height, width, uv, cosine.contiguous().view(-1, 1)[keep])
    return texture, weight


__all__ = ["back_project", "grown"]
