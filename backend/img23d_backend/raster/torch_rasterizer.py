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

from dataclasses import dataclass

import torch

_DEPTH_QUANT = float(2 << 17)            # the original's `depth * (2<<17)`
_FACE_BITS = 31                          # face+1 < 2**31 fits under the depth in the token
_ZQ_MAX = (1 << 31) - 1                  # largest quantised depth an `int` could hold
_FLOAT_KEY_MAX = (1 << 24) - 1           # largest integer a float32 key represents exactly
_OCCLUSION_TRUNCATION = 1e-6             # what the original python wrapper passes
_BACKGROUND = torch.iinfo(torch.int64).max

# Cells (face x pixel candidates) evaluated at once. On the CPU, chunks of 1M cells cost no more
# time than larger ones (measured) and keep the temporaries around 20 MB.
_CELL_BUDGET = {"cpu": 1 << 20}
_DEFAULT_CELL_BUDGET = 1 << 24
_MIN_BUCKET = 256                         # fewer units than this: use a coarser bucket


def _size_classes(limit: int, steps_per_octave: int) -> list[int]:
    """Grid sizes for bucketing: powers of two, plus 1.5x between them when asked for two steps."""
    sizes = [1]
    while sizes[-1] < limit:
        top = sizes[-1]
        if steps_per_octave == 2 and top >= 2:
            sizes.append(top * 3 // 2)
        sizes.append(top * 2)
    return sizes


def _supports_float64(device: torch.device) -> bool:
    return device.type != "mps"


def _supports_int64_scatter_min(device: torch.device) -> bool:
    return device.type in ("cpu", "cuda")


@dataclass
class _Faces:
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
    if _supports_float64(area.device):
        return (1.0 / area.double()).float()
    return 1.0 / area


def _alpha(beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    # `float alpha = 1.0 - beta - gamma` is evaluated in double; the in-bounds test depends on it.
    if _supports_float64(beta.device):
        return (1.0 - beta.double() - gamma.double()).float()
    return (1.0 - beta) - gamma


def _prepare_faces(verts: torch.Tensor, tri: torch.Tensor, height: int, width: int) -> _Faces:
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
    return _Faces(attrs=attrs, w=w, valid=valid, lo=lo, hi=hi)


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


@dataclass
class _Units:
    """Work units: a face's box, or a band of rows of it when one box exceeds the cell budget."""

    face: torch.Tensor           # [U] int64
    lo: torch.Tensor             # [U, 2]
    size: torch.Tensor           # [U, 2] (columns, rows)


def _make_units(faces: _Faces, width: int, budget: int) -> _Units:
    index = faces.valid.nonzero().squeeze(1)
    lo = faces.lo[index]
    size = faces.hi[index] - lo + 1
    max_rows = max(1, budget // max(width, 1))
    bands = (size[:, 1] + max_rows - 1) // max_rows
    if bool((bands > 1).any()):
        rep = torch.repeat_interleave(torch.arange(index.numel(), device=index.device), bands)
        first = torch.cumsum(bands, 0) - bands
        band = torch.arange(rep.numel(), device=index.device) - first[rep]
        start_row = lo[rep, 1] + band * max_rows
        rows = torch.minimum(lo[rep, 1] + size[rep, 1], start_row + max_rows) - start_row
        index, lo = index[rep], torch.stack([lo[rep, 0], start_row], 1)
        size = torch.stack([size[rep, 0], rows], 1)
    return _Units(face=index, lo=lo, size=size)


class _DepthBuffer:
    """Keeps the per-pixel winner under the original's (quantised depth, face index) order.

    The float-key variant is exact while quantised depths stay below 2**24 (depth < 64, far
    outside the clip range) and face counts below 2**24.
    """

    def __init__(self, pixels: int, device: torch.device, float_keys: bool):
        self.float_keys = float_keys
        if float_keys:
            inf = float("inf")
            self.best_z = torch.full((pixels,), inf, dtype=torch.float32, device=device)
            self.best_f = torch.full((pixels,), inf, dtype=torch.float32, device=device)
        else:
            self.tokens = torch.full((pixels,), _BACKGROUND, dtype=torch.int64, device=device)

    def add(self, pixel: torch.Tensor, zq: torch.Tensor, face1: torch.Tensor,
            keep: torch.Tensor) -> None:
        """Offer fragments (pixel, quantised depth, face + 1); those with keep=False are ignored."""
        if not self.float_keys:
            token = torch.where(keep, (zq << _FACE_BITS) | face1, _BACKGROUND)
            self.tokens.scatter_reduce_(0, pixel, token, "amin", include_self=True)
            return
        # Two passes of float scatter-min: nearest depth in this chunk, then the lowest face
        # among the fragments at that depth; then merge with the buffer lexicographically.
        inf = float("inf")
        z = torch.where(keep, zq.clamp(max=_FLOAT_KEY_MAX).float(), inf)
        chunk_z = torch.full_like(self.best_z, inf).scatter_reduce_(0, pixel, z, "amin")
        at_min = keep & (z == chunk_z.index_select(0, pixel))
        f = torch.where(at_min, face1.float(), inf)
        chunk_f = torch.full_like(self.best_f, inf).scatter_reduce_(0, pixel, f, "amin")
        better = (chunk_z < self.best_z) | ((chunk_z == self.best_z) & (chunk_f < self.best_f))
        self.best_z = torch.where(better, chunk_z, self.best_z)
        self.best_f = torch.where(better, chunk_f, self.best_f)

    def winners(self) -> torch.Tensor:
        """Face index + 1 per pixel, 0 for background, int64."""
        if self.float_keys:
            return torch.where(torch.isinf(self.best_f), 0.0, self.best_f).long()
        face1 = self.tokens & ((1 << _FACE_BITS) - 1)
        return torch.where(self.tokens == _BACKGROUND, 0, face1)


def _rasterize_group(faces: _Faces, units: _Units, cells: tuple[int, int], height: int,
                     width: int, budget: int, depth_buffer: _DepthBuffer,
                     prior: torch.Tensor | None) -> None:
    """Rasterize units whose boxes fit a ``rows x cols`` grid, in chunks of at most ``budget``."""
    cols, rows = cells
    per_chunk = max(1, budget // (rows * cols))
    for start in range(0, units.face.numel(), per_chunk):
        chunk = _Units(units.face[start:start + per_chunk], units.lo[start:start + per_chunk],
                       units.size[start:start + per_chunk])
        fragments = _chunk_fragments(faces, chunk, cols, rows, height, width, prior)
        if fragments is not None:
            depth_buffer.add(*fragments)


def _chunk_fragments(faces: _Faces, chunk: _Units, cols: int, rows: int, height: int, width: int,
                     prior: torch.Tensor | None) -> tuple[torch.Tensor, ...] | None:
    """(pixel, quantised depth, face + 1, keep) of every covered cell of one chunk of grids."""
    device = chunk.face.device
    # Slide grids that would hang off the image back inside it: the extra cells lie outside
    # the face's box and fail the barycentric test like any other.
    x0 = chunk.lo[:, 0].clamp(max=width - cols)
    y0 = chunk.lo[:, 1].clamp(max=height - rows)
    attrs = faces.attrs.index_select(0, chunk.face)
    ax, ay, ebx, eby, ecx, ecy, inv = attrs[:, :7].unbind(1)
    dpx = ((x0[:, None] + torch.arange(cols, device=device)).float() + 0.5) - ax[:, None]
    dpy = ((y0[:, None] + torch.arange(rows, device=device)).float() + 0.5) - ay[:, None]
    # beta = signedArea2(a, p, c) / area, gamma = signedArea2(a, b, p) / area; each product
    # depends on the row or the column only, so only the difference is full size.
    beta = (ecx[:, None] * dpy)[:, :, None] - (dpx * ecy[:, None])[:, None, :]
    beta.mul_(inv[:, None, None])
    gamma = (dpx * eby[:, None])[:, None, :] - (ebx[:, None] * dpy)[:, :, None]
    gamma.mul_(inv[:, None, None])
    # beta, gamma >= 0 and float(beta + gamma) <= 1 keeps every cell the exact test keeps
    # (rounding is monotonic) and implies beta, gamma <= 1; alpha decides the rest below.
    inside = torch.add(beta, gamma) <= 1.0
    inside &= beta >= 0
    inside &= gamma >= 0
    flat = inside.view(-1).nonzero().squeeze(1)
    if flat.numel() == 0:
        return None
    b = beta.view(-1).index_select(0, flat)
    g = gamma.view(-1).index_select(0, flat)
    a = _alpha(b, g)

    local = flat // (rows * cols)
    cell = flat - local * (rows * cols)
    base = y0 * width + x0
    pixel = base.index_select(0, local) + cell + (cell // cols) * (width - cols)
    z0, z1, z2 = attrs[:, 7:].index_select(0, local).unbind(1)
    depth = a * z0 + b * z1 + g * z2
    threshold = 0.0 if prior is None else (
        prior.index_select(0, pixel) * 0.49999 + 0.5 + _OCCLUSION_TRUNCATION)
    keep = (a >= 0) & (depth >= threshold)
    zq = (depth * _DEPTH_QUANT).clamp(0.0, 2.0 ** 31).long().clamp_(max=_ZQ_MAX)
    return pixel, zq, chunk.face.index_select(0, local) + 1, keep


def _final_barycentrics(faces: _Faces, winners: torch.Tensor, width: int) -> torch.Tensor:
    """Perspective-corrected barycentrics of each pixel's winning face, zeros on background."""
    bary = torch.zeros((winners.numel(), 3), dtype=torch.float32, device=winners.device)
    pixel = winners.nonzero().squeeze(1)
    if pixel.numel() == 0:
        return bary
    face = winners.index_select(0, pixel) - 1
    ax, ay, ebx, eby, ecx, ecy, inv = faces.attrs[:, :7].index_select(0, face).unbind(1)
    dpx = ((pixel % width).float() + 0.5) - ax
    dpy = ((pixel // width).float() + 0.5) - ay
    beta = (ecx * dpy - dpx * ecy) * inv
    gamma = (dpx * eby - ebx * dpy) * inv
    alpha = _alpha(beta, gamma)
    w0, w1, w2 = faces.w.index_select(0, face).unbind(1)
    alpha, beta, gamma = alpha / w0, beta / w1, gamma / w2
    norm = 1.0 / (alpha + beta + gamma)
    return bary.index_put_((pixel,), torch.stack([alpha * norm, beta * norm, gamma * norm], 1))


def _group_units(units: _Units, height: int, width: int) -> list[tuple[torch.Tensor, int, int]]:
    """Bucket units by grid size: (unit indices, cols, rows) per bucket.

    Fine size classes waste few cells, but every bucket costs a fixed number of tensor ops, so
    units whose fine bucket would be sparsely populated go to power-of-two buckets instead.
    """
    # A few small integer ops on [U, 2] sizes: done on the CPU, where every op here exists.
    size = units.size.cpu()
    fine = _size_classes(max(height, width), steps_per_octave=2)
    coarse = _size_classes(max(height, width), steps_per_octave=1)
    fine_key = _class_key(size, fine)
    coarse_key = _class_key(size, coarse) + len(fine) ** 2
    population = torch.bincount(fine_key, minlength=len(fine) ** 2)
    key = torch.where(population.index_select(0, fine_key) < _MIN_BUCKET, coarse_key, fine_key)

    order = torch.argsort(key, stable=True)
    keys, counts = torch.unique_consecutive(key.index_select(0, order), return_counts=True)
    order = order.to(units.size.device)
    groups = []
    start = 0
    for k, n in zip(keys.tolist(), counts.tolist()):
        classes = fine if k < len(fine) ** 2 else coarse
        k = k if k < len(fine) ** 2 else k - len(fine) ** 2
        cols = min(classes[k % len(classes)], width)
        rows = min(classes[k // len(classes)], height)
        groups.append((order[start:start + n], cols, rows))
        start += n
    return groups


def _class_key(size: torch.Tensor, classes: list[int]) -> torch.Tensor:
    """rows_class * len(classes) + cols_class for [U, 2] (cols, rows) sizes."""
    cls = torch.searchsorted(torch.tensor(classes), size)
    return cls[:, 1] * len(classes) + cls[:, 0]


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
    budget = cell_budget or _CELL_BUDGET.get(device.type, _DEFAULT_CELL_BUDGET)
    prior = None
    if use_depth_prior:
        if clamp_depth is None or clamp_depth.numel() != height * width:
            raise ValueError("use_depth_prior needs clamp_depth with H*W values")
        prior = clamp_depth.detach().to(device=device, dtype=torch.float32).reshape(-1)

    with torch.no_grad():
        depth_buffer = _DepthBuffer(height * width, device, float_keys)
        faces = None
        if tri.shape[0] > 0 and height > 0 and width > 0:
            faces = _prepare_faces(verts, tri, height, width)
            units = _make_units(faces, width, budget)
            for index, cols, rows in _group_units(units, height, width):
                group = _Units(units.face[index], units.lo[index], units.size[index])
                _rasterize_group(faces, group, (cols, rows), height, width, budget,
                                 depth_buffer, prior)
        winners = depth_buffer.winners()
        if faces is None:
            bary = torch.zeros((height * width, 3), dtype=torch.float32, device=device)
        else:
            bary = _final_barycentrics(faces, winners, width)
    findices = winners.to(torch.int32).view(height, width)
    return findices, bary.view(height, width, 3)


def _use_float_keys(depth_keys: str, device: torch.device) -> bool:
    if depth_keys == "auto":
        return not _supports_int64_scatter_min(device)
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
    """
    if attr_idx.shape[0] == 0:              # no faces: everything is background
        return attr.new_zeros((1, *findices.shape, attr.shape[-1]))
    face = findices.long() - 1
    face = face + (face < 0)              # background reads face 0, weighted by zeros
    corners = attr_idx.long()[face]       # [H, W, 3]
    values = attr[0]
    result = barycentric[..., 0:1] * values[corners[..., 0]]
    result = result + barycentric[..., 1:2] * values[corners[..., 1]]
    result = result + barycentric[..., 2:3] * values[corners[..., 2]]
    return result.unsqueeze(0)
