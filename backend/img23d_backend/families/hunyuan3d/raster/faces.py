"""Screen-space setup of triangles for the rasterizer: vertices to pixels, edge terms, bounds.

The arithmetic follows the compiled ``custom_rasterizer`` operation by operation (see
``torch_rasterizer``'s docstring for the semantics), including the two places where the C
code computes in double precision; devices without float64 (MPS) fall back to float32 there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def supports_float64(device: torch.device) -> bool:
    return device.type != "mps"


@dataclass
class Faces:
    """Per-face screen-space quantities, in the original's float32 arithmetic.

    ``attrs`` columns: a_x, a_y, (b-a)_x, (b-a)_y, (c-a)_x, (c-a)_y, 1/area, z_a, z_b, z_c.
    """

    attrs: torch.Tensor          # [F, 10] float32
    w: torch.Tensor              # [F, 3] the vertex w, for perspective correction
    valid: torch.Tensor          # [F] bool
    lo: torch.Tensor             # [F, 2] first pixel (x, y) of the bounding box, int64
    hi: torch.Tensor             # [F, 2] last pixel (x, y), int64 (hi < lo when empty)


def _screen_vertices(verts: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Clip-space [N, 4] -> screen x, y and depth [N, 3], operation by operation as in C."""
    x, y, z, w = verts.unbind(1)
    xs = (x / w * 0.5 + 0.5) * float(width - 1) + 0.5
    ys = (0.5 + 0.5 * y / w) * float(height - 1) + 0.5       # (0.5*y)/w, as C parses it
    zs = z / w * 0.49999 + 0.5
    return torch.stack([xs, ys, zs], 1)


def _reciprocal(area: torch.Tensor) -> torch.Tensor:
    # The C code writes `float tri_inv = 1.0 / area`, a double division rounded to float.
    if supports_float64(area.device):
        return (1.0 / area.double()).float()
    return 1.0 / area


def alpha_of(beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    # `float alpha = 1.0 - beta - gamma` is evaluated in double; the in-bounds test depends on it.
    if supports_float64(beta.device):
        return (1.0 - beta.double() - gamma.double()).float()
    return (1.0 - beta) - gamma


def prepare_faces(verts: torch.Tensor, tri: torch.Tensor, height: int, width: int) -> Faces:
    screen = _screen_vertices(verts, height, width)
    corners = screen[tri]                                     # [F, 3, 3]
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    eb = b[:, :2] - a[:, :2]
    ec = c[:, :2] - a[:, :2]
    # calculateSignedArea2(a, b, c) = (c-a)_x (b-a)_y - (b-a)_x (c-a)_y
    area = ec[:, 0] * eb[:, 1] - eb[:, 0] * ec[:, 1]
    w = verts[:, 3][tri]                                      # [F, 3]
    finite = torch.isfinite(corners).flatten(1).all(1) & torch.isfinite(area)
    valid = (w > 0).all(1) & finite & (area != 0)
    safe_area = torch.where(valid, area, torch.ones_like(area))
    attrs = torch.cat([a[:, :2], eb, ec, _reciprocal(safe_area)[:, None],
                       corners[:, :, 2]], 1)

    lo, hi = _pixel_bounds(corners[:, :, :2], height, width)
    valid &= (lo <= hi).all(1)
    return Faces(attrs=attrs, w=w, valid=valid, lo=lo, hi=hi)


def _pixel_bounds(xy: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels whose centres may lie in each face's screen box, clipped to the image.

    The box is padded by a little more than float32 rounding of the edge functions can move a
    boundary, so the barycentric test alone decides coverage; the pad stays < 0.5 px, which keeps
    the box inside the range the original loops over.
    """
    lo_f = xy.min(1).values
    hi_f = xy.max(1).values
    scale = torch.maximum(lo_f.abs(), hi_f.abs()).amax(1, keepdim=True)
    pad = (1e-3 + 1e-6 * scale).clamp(max=0.4)
    limit = torch.tensor([width, height], dtype=xy.dtype, device=xy.device)
    # Clamp in float first so huge coordinates cannot overflow the integer conversion.
    lo = torch.ceil(lo_f - 0.5 - pad).clamp(min=0.0).minimum(limit)
    hi = torch.floor(hi_f - 0.5 + pad).clamp(min=-1.0).minimum(limit - 1)
    return lo.long(), hi.long()
