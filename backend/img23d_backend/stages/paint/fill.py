"""Filling the texels no camera saw: vertex colours spread over the mesh, then image inpainting.

After baking, parts of the UV atlas stay empty (surfaces hidden from all six cameras) and the
space between charts is empty too. Inpainting the atlas directly would bleed colours across
unrelated charts, so, like hy3dgen, the colour is first carried over the *surface*: every
vertex whose texel was painted keeps that colour, unpainted vertices take the inverse-square
distance weighted mean of painted neighbours, ring by ring, and those vertex colours are
written into their texels as seeds. OpenCV's Navier-Stokes inpainting then fills the rest.

hy3dgen ships this step as a per-vertex Python loop (about a minute for 40,000 faces); this
module does the same propagation with array operations over the edge list. hy3dgen inpaints the
whole atlas at full size, and a third of a 2048 px atlas is the gutter between charts, most of it
far from any chart, where only the texture's smaller mip levels ever read a colour: here the holes
within ``NEAR_TEXELS`` of a known texel are inpainted at full size, as hy3dgen does, and the rest
takes the inpainting of the atlas at a quarter of its side (``bench/paint_fill.py``: 0.59 of the time
at 2048 px, the charts' texels within 1 level of 255 of hy3dgen's whole-atlas fill at the 99th percentile).
"""

from __future__ import annotations

import numpy as np

_INPAINT_RADIUS = 3
_MIN_EDGE_LENGTH = 1e-4  # distance floor so coincident vertices do not get infinite weight
NEAR_TEXELS = 8   # holes this close to a known texel are inpainted at full size
COARSE = 4        # the others take the inpainting of the atlas at 1/COARSE of its side


def fill_texture(texture: np.ndarray, painted: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                 uvs: np.ndarray) -> np.ndarray:
    """The texture (float HxWx3 in [0, 1]) with unpainted texels filled; returns uint8 HxWx3.

    ``painted`` is a boolean HxW mask; ``uvs`` are per-vertex (trimesh convention: v points
    up, row 0 of the image is v = 1), ``faces`` index both ``vertices`` and ``uvs``.
    """
    height, width = painted.shape
    rows, cols = _vertex_texels(uvs, height, width)
    colors, known = propagate_vertex_colors(texture[rows, cols], painted[rows, cols], vertices, faces)
    seeded = np.clip(texture, 0.0, 1.0).copy()
    seeded[rows[known], cols[known]] = colors[known]
    mask = painted.copy()
    mask[rows[known], cols[known]] = True
    return inpaint((seeded * 255.0 + 0.5).astype(np.uint8), mask)


def inpaint(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (uint8 HxWx3) with the texels not ``known`` inpainted (Navier-Stokes): at full size
    within ``NEAR_TEXELS`` of a known texel, from a quarter-side inpainting farther away."""
    import cv2  # here, not at the top: importing the jobs must not wait for OpenCV

    holes = ~known
    far = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, 3) > NEAR_TEXELS
    height, width = known.shape
    if far.any() and min(height, width) >= COARSE * 8:
        image = image.copy()
        image[far] = _coarse_fill(image, known)[far]
        holes &= ~far
    return cv2.inpaint(image, np.where(holes, 255, 0).astype(np.uint8), _INPAINT_RADIUS, cv2.INPAINT_NS)


def _coarse_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The atlas inpainted at 1/COARSE of its side, each small texel the mean of its known texels, and
    scaled back up (bilinear)."""
    import cv2

    height, width = known.shape
    size = (width // COARSE, height // COARSE)
    weight = known.astype(np.float32)
    total = cv2.resize(image.astype(np.float32) * weight[..., None], size, interpolation=cv2.INTER_AREA)
    share = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    seen = share > 0
    small = np.zeros_like(total)
    small[seen] = total[seen] / share[seen, None]
    small = cv2.inpaint((small + 0.5).clip(0, 255).astype(np.uint8), np.where(seen, 0, 255).astype(np.uint8),
                        _INPAINT_RADIUS, cv2.INPAINT_NS)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _vertex_texels(uvs: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    cols = np.clip(np.rint(uvs[:, 0] * (width - 1)), 0, width - 1).astype(np.int64)
    rows = np.clip(np.rint((1.0 - uvs[:, 1]) * (height - 1)), 0, height - 1).astype(np.int64)
    return rows, cols


def propagate_vertex_colors(colors: np.ndarray, known: np.ndarray, vertices: np.ndarray,
                            faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spread known vertex colours to unknown vertices over mesh edges, one ring per pass.

    Returns the colours and the mask of vertices that have one now (vertices in components
    without any known colour stay unknown).
    """
    colors = np.asarray(colors, dtype=np.float64).copy()
    known = np.asarray(known, dtype=bool).copy()
    sources, targets, weights = _edges(vertices, faces)
    while True:
        usable = known[sources] & ~known[targets]
        if not usable.any():
            return colors, known
        tgt, w = targets[usable], weights[usable]
        total = np.bincount(tgt, weights=w, minlength=len(known))
        summed = np.stack([np.bincount(tgt, weights=w * colors[sources[usable], c], minlength=len(known))
                           for c in range(colors.shape[1])], axis=1)
        reached = total > 0
        colors[reached] = summed[reached] / total[reached, None]
        known |= reached


def _edges(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both directions of every face edge, with inverse-square length weights."""
    faces = np.asarray(faces, dtype=np.int64)
    start = faces.reshape(-1)
    end = np.roll(faces, -1, axis=1).reshape(-1)
    sources = np.concatenate([start, end])
    targets = np.concatenate([end, start])
    lengths = np.linalg.norm(np.asarray(vertices, dtype=np.float64)[sources]
                             - np.asarray(vertices, dtype=np.float64)[targets], axis=1)
    weights = 1.0 / np.maximum(lengths, _MIN_EDGE_LENGTH) ** 2
    return sources, targets, weights
