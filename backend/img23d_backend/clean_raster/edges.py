"""Triangle set-up: clip space to fixed-point screen positions and the three edge functions.

Written for img23d from the textbook method (Pineda, "A Parallel Algorithm for Polygon
Rasterization", SIGGRAPH 1988: a pixel is inside when three linear edge functions are
non-negative; the fixed-point snapping and the top-left rule as Direct3D specifies them and as
Fabian Giesen's "Triangle rasterization in practice" (2013) explains them).

Screen space (the contract the clean family's cameras are written for): normalised device
coordinate x = -1 lands on the centre of column 0 and x = +1 on the centre of column W - 1; y = -1
on the centre of row 0 (no flip: the projection decides which way is up); depth is the NDC z,
nearer is smaller. Here pixel (row r, column c) is sampled at (c, r).

Positions are snapped to 1/256 of a pixel and every edge function is evaluated in int64, so two
triangles that share an edge compute exactly opposite values along it, and the top-left rule can
give each pixel centre that lies exactly on the edge to one of them: a "left" edge (the interior
lies towards +x) or a "top" one (horizontal, the interior towards +row) keeps its ties, the others
do not. No pixel is covered twice, none falls between.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SUBPIXEL_BITS = 8
SUBPIXEL = 1 << SUBPIXEL_BITS
# Vertices beyond this many pixels from the screen's origin are not snapped (the int64 products
# would overflow): their triangles are skipped. A mesh in a view box never comes near it.
GUARD_PIXELS = 1 << 22
MAX_SIDE = 1 << 15          # the largest height or width (keeps every product well inside int64)


@dataclass(frozen=True)
class Triangles:
    """The faces that can cover a pixel, in face order, ready to scan.

    Edge function i (the edge opposite vertex i) at pixel (c, r) is ``step_x[:, i] * c +
    step_y[:, i] * r + offset[:, i]``, in units of 1 / SUBPIXEL^2 pixel^2, oriented so the interior
    is where all three are >= 0 (the top-left bias already in ``offset``); ``area`` is their sum
    without the bias (twice the area), > 0.
    """

    face: torch.Tensor          # [K] int64: index into the caller's faces
    step_x: torch.Tensor        # [K, 3] int64
    step_y: torch.Tensor        # [K, 3] int64
    offset: torch.Tensor        # [K, 3] int64
    area: torch.Tensor          # [K] int64
    bary_plane: torch.Tensor    # [K, 3, 3]: screen barycentric i = [i, 0] * c + [i, 1] * r + [i, 2]
    depth_plane: torch.Tensor   # [K, 3]: NDC z = [0] * c + [1] * r + [2] (z is affine on screen)
    w: torch.Tensor             # [K, 3] float32: clip w of each vertex
    box: torch.Tensor           # [K, 4] int64: first and last column, first and last row covered

    @property
    def count(self) -> int:
        return int(self.face.numel())


def set_up(clip: torch.Tensor, faces: torch.Tensor, height: int, width: int) -> Triangles:
    """The faces of ``clip`` [N, 4] that can cover a pixel of a ``height`` x ``width`` image: each
    vertex in front of the camera (w > 0) and finite, the triangle not degenerate once snapped and
    its box on the screen."""
    device = clip.device
    exact = precise_dtype(device)
    w = clip[:, 3]
    ndc = clip[:, :3].to(exact) / w.to(exact)[:, None]
    x = (ndc[:, 0] * 0.5 + 0.5) * (width - 1)
    y = (ndc[:, 1] * 0.5 + 0.5) * (height - 1)
    good = (w > 0) & torch.isfinite(ndc).all(dim=1) & (x.abs() <= GUARD_PIXELS) & (y.abs() <= GUARD_PIXELS)
    fx = torch.where(good, torch.round(x * SUBPIXEL), torch.zeros_like(x)).to(torch.int64)
    fy = torch.where(good, torch.round(y * SUBPIXEL), torch.zeros_like(y)).to(torch.int64)

    keep = good[faces].all(dim=1)
    face = keep.nonzero().squeeze(1)
    corners = faces[face]
    vx, vy = fx[corners], fy[corners]                         # [K, 3]
    nxt, after = [1, 2, 0], [2, 0, 1]                          # edge i runs from vertex i+1 to i+2
    ex, ey = vx[:, after] - vx[:, nxt], vy[:, after] - vy[:, nxt]
    # E_i(p) = ex * (p_y - y_j) - ey * (p_x - x_j), written as step_x * p_x + step_y * p_y + offset.
    step_x, step_y = -ey, ex
    offset = ey * vx[:, nxt] - ex * vy[:, nxt]
    signed = offset.sum(dim=1)                                 # the steps sum to zero: twice the area
    sign = torch.where(signed < 0, -1, 1)
    step_x, step_y, offset, area = step_x * sign[:, None], step_y * sign[:, None], offset * sign[:, None], signed * sign
    # Top-left rule: ties stay with an edge whose inward direction is +x, or +row when horizontal.
    owns = (step_x > 0) | ((step_x == 0) & (step_y > 0))
    bias = (~owns).to(torch.int64)

    # Pixel centres sit on whole pixels: SUBPIXEL units each.
    col0 = _ceil_div(vx.min(dim=1).values).clamp_min(0)
    col1 = torch.div(vx.max(dim=1).values, SUBPIXEL, rounding_mode="floor").clamp_max(width - 1)
    row0 = _ceil_div(vy.min(dim=1).values).clamp_min(0)
    row1 = torch.div(vy.max(dim=1).values, SUBPIXEL, rounding_mode="floor").clamp_max(height - 1)
    scan = (area > 0) & (col0 <= col1) & (row0 <= row1)
    pick = scan.nonzero().squeeze(1)
    # Pixel indices step by whole pixels: SUBPIXEL fixed-point units each.
    step_x, step_y = step_x[pick] * SUBPIXEL, step_y[pick] * SUBPIXEL
    offset, area, corners = offset[pick], area[pick], corners[pick]
    # Barycentric i is edge function i (its bias taken back) over twice the area: a plane per vertex.
    bary_plane = torch.stack([step_x, step_y, offset], dim=2).to(exact) / area.to(exact)[:, None, None]
    depth_plane = (bary_plane * ndc[:, 2][corners][:, :, None]).sum(dim=1)
    return Triangles(face=face[pick], step_x=step_x, step_y=step_y, offset=offset - bias[pick], area=area,
                     bary_plane=bary_plane, depth_plane=depth_plane, w=w.to(torch.float32)[corners],
                     box=torch.stack([col0, col1, row0, row1], dim=1)[pick])


def precise_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (set-up and barycentrics); Apple's GPUs have only float32."""
    return torch.float32 if device.type == "mps" else torch.float64


def _ceil_div(fixed: torch.Tensor) -> torch.Tensor:
    return -torch.div(-fixed, SUBPIXEL, rounding_mode="floor")
