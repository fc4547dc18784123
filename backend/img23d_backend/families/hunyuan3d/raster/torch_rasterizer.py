"""Pure-PyTorch replacement for the two functions of Hunyuan3D-2's compiled ``custom_rasterizer``.

This module owns ``rasterize`` and ``interpolate`` with the semantics of the original CUDA/C++
kernel (hy3dgen/texgen/custom_rasterizer), so that ``MeshRender`` works on CUDA, MPS and CPU
without a build step. Everything runs as vectorised tensor ops on the device of ``pos``.

Semantics reproduced from the original (the reason for most of the arithmetic below):

* ``resolution`` is ``(H, W)``; clip ``x`` maps to columns and clip ``y`` to rows with no flip
  (row 0 is clip ``y = -1``), and NDC -1/+1 land on the *centres* of the first/last pixels:
  ``x_s = (x/w*0.5+0.5)*(W-1)+0.5``, ``y_s = (0.5+0.5*y/w)*(H-1)+0.5``,
  ``depth = z/w*0.49999+0.5``.
* A pixel is tested at its centre with the signed-area barycentric formula; it is covered when
  all three coordinates are in ``[0, 1]`` (edges inclusive, both windings, zero-area faces never).
  ``alpha = 1 - beta - gamma`` is evaluated in double precision, as the C expression is.
* Fragments whose depth is below a threshold are dropped: the threshold is 0 (so anything in
  front of the near plane disappears) or, with ``use_depth_prior``, the prior depth + 1e-6.
* The nearest fragment wins on ``(int(depth * 2**18), face index)``: quantised depth first,
  ties to the lower face index.
* Output barycentrics are perspective-corrected (divided by each vertex ``w``, renormalised).

Deviations, all on inputs the original mishandles: faces with any ``w <= 0``, or with non-finite
screen coordinates or area, are skipped (the original projects them anyway, or overflows), and
quantised depths are clamped to ``2**31 - 1`` (the original overflows an ``int``).

How it is made fast: faces are bucketed by the size of their screen bounding box, and each bucket
is rasterized as a dense ``[faces, rows, cols]`` grid where the edge-function terms are separable
(one factor per row, one per column), so the full-size work is a handful of broadcast ops. Grids
are processed in chunks bounded by a cell budget; the depth test is a ``scatter_reduce("amin")``
on an int64 token ``(quantised depth << 31) | (face + 1)``, or, on devices without int64
scatter-min (MPS), on two float keys.
"""


from __future__ import annotations

import torch

from .depth import DepthBuffer, supports_int64_scatter_min
from .faces import prepare_faces
from .grids import CELL_BUDGET, DEFAULT_CELL_BUDGET, Units, final_barycentrics, group_units, make_units, rasterize_group


def rasterize(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int] | list[int],
              clamp_depth: torch.Tensor | None = None, use_depth_prior: int = 0, *,
              cell_budget: int | None = None,
              depth_keys: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Rasterize triangles like ``custom_rasterizer.rasterize``.

    Args:
        pos: clip-space vertices ``[1, N, 4]`` (``[N, 4]`` is accepted too).
        tri: ``[F, 3]`` vertex indices (any integer dtype).
        resolution: ``(H, W)``.
        clamp_depth: ``[H, W]`` prior NDC depths (z/w), used only when ``use_depth_prior`` is
            set: fragments nearer than the prior plus 1e-6 are discarded (depth peeling).
        use_depth_prior: non-zero enables ``clamp_depth``.
        cell_budget: candidate (face, pixel) cells evaluated per chunk; bounds memory.
        depth_keys: ``"auto"``, ``"int64"`` (one scatter-min on packed tokens) or ``"float"``
            (two float scatter-mins, for devices without int64 scatter-min).

    Returns:
        ``findices`` int32 ``[H, W]`` (face index + 1, 0 = background) and ``barycentric``
        float32 ``[H, W, 3]`` (perspective-corrected, zeros on background).
    """
    height, width = int(resolution[0]), int(resolution[1])
    verts = (pos[0] if pos.dim() == 3 else pos).detach().float()
    device = verts.device
    tri = tri.detach().to(device=device, dtype=torch.long).reshape(-1, 3)
    float_keys = _use_float_keys(depth_keys, device)
    budget = cell_budget or CELL_BUDGET.get(device.type, DEFAULT_CELL_BUDGET)
    prior = None
    if use_depth_prior:
        if clamp_depth is None or clamp_depth.numel() != height * width:
            raise ValueError("use_depth_prior needs clamp_depth with H*W values")
        prior = clamp_depth.detach().to(device=device, dtype=torch.float32).reshape(-1)

    with torch.no_grad():
        depth_buffer = DepthBuffer(height * width, device, float_keys)
        faces = None
        if tri.shape[0] > 0 and height > 0 and width > 0:
            faces = prepare_faces(verts, tri, height, width)
            units = make_units(faces, width, budget)
            for index, cols, rows in group_units(units, height, width):
                group = Units(units.face[index], units.lo[index], units.size[index])
                rasterize_group(faces, group, (cols, rows), height, width, budget,
                                 depth_buffer, prior)
        winners = depth_buffer.winners()
        if faces is None:
            bary = torch.zeros((height * width, 3), dtype=torch.float32, device=device)
        else:
            bary = final_barycentrics(faces, winners, width)
    findices = winners.to(torch.int32).view(height, width)
    return findices, bary.view(height, width, 3)


def _use_float_keys(depth_keys: str, device: torch.device) -> bool:
    if depth_keys == "auto":
        return not supports_int64_scatter_min(device)
    if depth_keys not in ("int64", "float"):
        raise ValueError(f"depth_keys must be 'auto', 'int64' or 'float', not {depth_keys!r}")
    return depth_keys == "float"


def interpolate(attr: torch.Tensor, findices: torch.Tensor, barycentric: torch.Tensor,
                attr_idx: torch.Tensor) -> torch.Tensor:
    """Blend per-vertex attributes with the rasterized barycentrics, like the original.

    Args:
        attr: ``[1, N, C]`` per-vertex attributes.
        findices: ``[H, W]`` face index + 1 (any numeric dtype; MeshRender passes floats).
        barycentric: ``[H, W, 3]``.
        attr_idx: ``[F, 3]`` attribute indices per face.

    Returns:
        ``[1, H, W, C]``; background pixels (zero barycentrics) come out 0.

    Only the covered pixels are gathered and blended (an object fills a fraction of a view: at 2048 px
    the whole grid's gathers were most of a view's bake); each covered pixel's sum is the same, in the
    same order, as over the whole grid.
    """
    result = attr.new_zeros((findices.numel(), attr.shape[-1]))
    covered = findices.reshape(-1) > 0
    if attr_idx.shape[0] == 0 or not bool(covered.any()):   # no faces, or none in view: all background
        return result.view(1, *findices.shape, attr.shape[-1])
    corners = attr_idx.long()[findices.reshape(-1)[covered].long() - 1]      # [K, 3]
    weights = barycentric.reshape(-1, 3)[covered]
    values = attr[0]
    blended = weights[:, 0:1] * values[corners[:, 0]]
    blended = blended + weights[:, 1:2] * values[corners[:, 1]]
    result[covered] = blended + weights[:, 2:3] * values[corners[:, 2]]
    return result.view(1, *findices.shape, attr.shape[-1])
