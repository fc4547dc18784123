"""Rasterizing faces as dense grids: bucketing by screen size, chunking by a cell budget.

Faces (or bands of rows of very large faces) are grouped by the size of their screen box; each
group is evaluated as a ``[faces, rows, cols]`` grid whose edge-function terms are separable,
in chunks bounded by a cell budget, and its covered cells go to the depth buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .depth import DEPTH_QUANT, OCCLUSION_TRUNCATION, ZQ_MAX, DepthBuffer
from .faces import Faces, alpha_of

# Cells (face x pixel candidates) evaluated at once. On the CPU, chunks of 1M cells cost no more
# time than larger ones (measured) and keep the temporaries around 20 MB.
CELL_BUDGET = {"cpu": 1 << 20}
DEFAULT_CELL_BUDGET = 1 << 24
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


@dataclass
class Units:
    """Work units: a face's box, or a band of rows of it when one box exceeds the cell budget."""

    face: torch.Tensor           # [U] int64
    lo: torch.Tensor             # [U, 2]
    size: torch.Tensor           # [U, 2] (columns, rows)


def make_units(faces: Faces, width: int, budget: int) -> Units:
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
    return Units(face=index, lo=lo, size=size)


def rasterize_group(faces: Faces, units: Units, cells: tuple[int, int], height: int,
                     width: int, budget: int, depth_buffer: DepthBuffer,
                     prior: torch.Tensor | None) -> None:
    """Rasterize units whose boxes fit a ``rows x cols`` grid, in chunks of at most ``budget``."""
    cols, rows = cells
    per_chunk = max(1, budget // (rows * cols))
    for start in range(0, units.face.numel(), per_chunk):
        chunk = Units(units.face[start:start + per_chunk], units.lo[start:start + per_chunk],
                       units.size[start:start + per_chunk])
        fragments = _chunk_fragments(faces, chunk, cols, rows, height, width, prior)
        if fragments is not None:
            depth_buffer.add(*fragments)


def _chunk_fragments(faces: Faces, chunk: Units, cols: int, rows: int, height: int, width: int,
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
    a = alpha_of(b, g)

    local = flat // (rows * cols)
    cell = flat - local * (rows * cols)
    base = y0 * width + x0
    pixel = base.index_select(0, local) + cell + (cell // cols) * (width - cols)
    z0, z1, z2 = attrs[:, 7:].index_select(0, local).unbind(1)
    depth = a * z0 + b * z1 + g * z2
    threshold = 0.0 if prior is None else (
        prior.index_select(0, pixel) * 0.49999 + 0.5 + OCCLUSION_TRUNCATION)
    keep = (a >= 0) & (depth >= threshold)
    zq = (depth * DEPTH_QUANT).clamp(0.0, 2.0 ** 31).long().clamp_(max=ZQ_MAX)
    return pixel, zq, chunk.face.index_select(0, local) + 1, keep


def final_barycentrics(faces: Faces, winners: torch.Tensor, width: int) -> torch.Tensor:
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
    alpha = alpha_of(beta, gamma)
    w0, w1, w2 = faces.w.index_select(0, face).unbind(1)
    alpha, beta, gamma = alpha / w0, beta / w1, gamma / w2
    norm = 1.0 / (alpha + beta + gamma)
    return bary.index_put_((pixel,), torch.stack([alpha * norm, beta * norm, gamma * norm], 1))


def group_units(units: Units, height: int, width: int) -> list[tuple[torch.Tensor, int, int]]:
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
