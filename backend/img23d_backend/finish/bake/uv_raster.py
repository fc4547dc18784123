"""Texels of a UV atlas: which triangle covers each texel centre, and where in it.

A scanline rasteriser in texel space, vectorised over every row of every triangle at once: each
row's span of columns comes from the edge functions (Pineda's), so only the texels inside are visited. Texel (row r, column c) of an
image of side ``size`` has its centre at u = (c + 0.5) / size, v = 1 - (r + 0.5) / size: v up, row 0 at
the top, as trimesh reads UVs and Blender and glTF (which flips v on the way) show the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BATCH_TEXELS = 2_000_000  # bounding-box texels of the triangles rasterised at a time
_EDGE_EPS = 1e-9  # a texel centre on a shared edge belongs to a triangle either side


@dataclass
class TexelCover:
    """The texels whose centre falls in a triangle, with that triangle and its barycentrics."""

    size: int
    rows: np.ndarray  # (N,) int32
    cols: np.ndarray  # (N,) int32
    face: np.ndarray  # (N,) int64: the triangle
    bary: np.ndarray  # (N, 3) float32: weights of its three corners

    def mask(self) -> np.ndarray:
        """(size, size) bool: the covered texels."""
        covered = np.zeros((self.size, self.size), dtype=bool)
        covered[self.rows, self.cols] = True
        return covered


def texel_space(uvs: np.ndarray, size: int) -> np.ndarray:
    """UVs (v up) to continuous texel coordinates (x right, y down), texel centres at half integers."""
    return np.stack([uvs[:, 0] * size, (1.0 - uvs[:, 1]) * size], axis=1)


def _spans(a: np.ndarray, b: np.ndarray, c: np.ndarray, area: np.ndarray, y: np.ndarray,
           size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per (triangle, row): the first and last column whose centre is inside (first > last: none).

    Along a row each barycentric weight is linear in x, so each is >= 0 on a half-line; the span is
    the intersection of the three half-lines."""
    lo = np.full(len(y), -np.inf)
    hi = np.full(len(y), np.inf)
    for p, q in ((b, c), (c, a), (a, b)):  # the edge opposite each corner, as in _weights
        slope = (p[:, 1] - q[:, 1]) / area  # d(weight)/dx
        offset = ((p[:, 0]) * (q[:, 1] - y) - (p[:, 1] - y) * q[:, 0]) / area  # weight at x = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = (-_EDGE_EPS - offset) / slope
        lo = np.where(slope > 0, np.maximum(lo, bound), lo)
        hi = np.where(slope < 0, np.minimum(hi, bound), hi)
        flat_out = (slope == 0) & (offset < -_EDGE_EPS)
        hi = np.where(flat_out, -np.inf, hi)
    first = np.clip(np.ceil(lo - 0.5), 0, size).astype(np.int64)
    last = np.clip(np.floor(hi - 0.5), -1, size - 1).astype(np.int64)
    return first, last


def _weights(a: np.ndarray, b: np.ndarray, c: np.ndarray, area: np.ndarray, px: np.ndarray,
             py: np.ndarray) -> np.ndarray:
    """Barycentric weights of texel centres from the three edge functions over the signed area."""
    w0 = (b[:, 0] - px) * (c[:, 1] - py) - (b[:, 1] - py) * (c[:, 0] - px)
    w1 = (c[:, 0] - px) * (a[:, 1] - py) - (c[:, 1] - py) * (a[:, 0] - px)
    w2 = (a[:, 0] - px) * (b[:, 1] - py) - (a[:, 1] - py) * (b[:, 0] - px)
    return np.stack([w0, w1, w2], axis=1) / area[:, None]


def _rasterize_batch(corners: np.ndarray, area: np.ndarray, batch: np.ndarray, size: int,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns, triangles and barycentrics of the texels inside the triangles ``batch``."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    top = np.clip(np.ceil(corners[batch, :, 1].min(axis=1) - 0.5), 0, size).astype(np.int64)
    bottom = np.clip(np.floor(corners[batch, :, 1].max(axis=1) - 0.5), -1, size - 1).astype(np.int64)
    heights = np.maximum(bottom - top + 1, 0)
    row_face = np.repeat(batch, heights)
    rows = np.repeat(top, heights) + np.arange(heights.sum()) - np.repeat(np.cumsum(heights) - heights, heights)
    first, last = _spans(a[row_face], b[row_face], c[row_face], area[row_face], rows + 0.5, size)
    widths = np.maximum(last - first + 1, 0)
    face = np.repeat(row_face, widths)
    y = np.repeat(rows, widths)
    x = np.repeat(first, widths) + np.arange(widths.sum()) - np.repeat(np.cumsum(widths) - widths, widths)
    bary = _weights(a[face], b[face], c[face], area[face], x + 0.5, y + 0.5)
    inside = np.all(bary >= -1e-6, axis=1)  # the spans' rounding, checked on the weights themselves
    bary = np.clip(bary[inside], 0.0, 1.0)
    bary /= np.maximum(bary.sum(axis=1, keepdims=True), 1e-12)
    return y[inside].astype(np.int32), x[inside].astype(np.int32), face[inside], bary.astype(np.float32)


def rasterize_uv(uvs: np.ndarray, faces: np.ndarray, size: int) -> TexelCover:
    """Every texel whose centre lies in one of the triangles (one triangle per texel: the last wins).

    A scanline per triangle: its rows from its bounding box, each row's span of columns solved from
    the edge functions, so only texels inside are visited. Triangles go in batches of about
    ``_BATCH_TEXELS`` texels, and the result is kept compact (int32, float32), so that memory follows
    the texels covered, not the temporaries."""
    corners = texel_space(np.asarray(uvs, dtype=np.float64), size)[faces]  # (F, 3, 2)
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    valid = np.flatnonzero(np.abs(area) > 1e-12)
    extent = np.ptp(corners[valid], axis=1) + 1.0
    budget = np.cumsum(extent[:, 0] * extent[:, 1])  # each triangle's bounding box, in texels
    cuts = np.searchsorted(budget, np.arange(_BATCH_TEXELS, budget[-1] if len(budget) else 0, _BATCH_TEXELS))
    parts = [_rasterize_batch(corners, area, batch, size) for batch in np.split(valid, cuts) if len(batch)]
    if not parts:
        empty = np.zeros(0, dtype=np.int32)
        return TexelCover(size, empty, empty, np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.float32))
    y, x, face, bary = (np.concatenate(column) for column in zip(*parts))
    # one triangle per texel: keep the last writer, as a z-less rasteriser would
    flat = y.astype(np.int64) * size + x
    _, last_index = np.unique(flat[::-1], return_index=True)
    keep = len(flat) - 1 - last_index
    return TexelCover(size, y[keep], x[keep], face[keep], bary[keep])
