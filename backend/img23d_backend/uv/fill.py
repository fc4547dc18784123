"""Filling the texels no camera saw: vertex colours spread over the mesh, then a pull-push fill of the atlas.

After baking, parts of the UV atlas stay empty (surfaces hidden from all six cameras) and the
space between charts is empty too. Filling the atlas directly would bleed colours across
unrelated charts, so, like hy3dgen, the colour is first carried over the *surface*: every
vertex whose texel was painted keeps that colour, unpainted vertices take the inverse-square
distance weighted mean of painted neighbours, ring by ring, and those vertex colours are
written into their texels as seeds.

hy3dgen ships this step as a per-vertex Python loop (about a minute for 40,000 faces); this
module does the same propagation with array operations over the edge list. hy3dgen then inpaints
the whole atlas with OpenCV's Navier-Stokes method, which took 3.6 to 5.2 s a target on an H200's
host even at a quarter of the side in the far gutter (``bench/results/chain-full-size-gpu-h200.json``;
twice a target with material maps). The rest is filled here by pull-push instead (Gortler et al.,
"The Lumigraph", 1996, section 3.4.2): the known texels are averaged into ever coarser levels, each
texel of a level the mean of the known texels under it, and every texel known at no level takes
the bilinear upsampling of the level above, from the coarsest down. A known texel keeps its colour
exactly; a hole beside a chart takes the mean of the chart's texels nearest it, as a bake's gutter
should (bilinear reads and mip levels at a chart's edge then average the chart's own colours); the
far gutter a smooth blend of the charts around it. It is a few passes over the atlas, on the device
the bake ran on (``bench/host_stages.py`` compares it with the inpainting).
"""

from __future__ import annotations

import numpy as np

_MIN_EDGE_LENGTH = 1e-4  # distance floor so coincident vertices do not get infinite weight
# The finest levels whose holes take only the colours of the known texels nearest them: within about 2 ** 3
# texels of a chart (what bilinear reads and the first mip levels at its edge average) a hole keeps to the
# chart's own colours; farther out the smooth blend is as near the truth as the inpainting was
# (``bench/host_stages.py``: the charts' unseen texels against the surface's true colours).
NEAR_LEVELS = 3


def fill_texture(texture: np.ndarray, painted: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                 uvs: np.ndarray) -> np.ndarray:
    """The texture (float HxWx3 in [0, 1]) with unpainted texels filled; returns uint8 HxWx3.

    ``painted`` is a boolean HxW mask; ``uvs`` are per-vertex (trimesh convention: v points
    up, row 0 of the image is v = 1), ``faces`` index both ``vertices`` and ``uvs``.
    """
    height, width = painted.shape
    rows, cols = _vertex_texels(uvs, height, width)
    colors, known = propagate_vertex_colors(texture[rows, cols], painted[rows, cols], vertices, faces)
    seeded = np.clip(np.asarray(texture, dtype=np.float32), 0.0, 1.0)
    seeded[rows[known], cols[known]] = colors[known]
    mask = painted.copy()
    mask[rows[known], cols[known]] = True
    filled = pull_push(seeded, mask)
    filled *= 255.0
    filled += 0.5
    return filled.astype(np.uint8)


def pull_push(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (float32 HxWxC) with every texel not ``known`` (bool HxW) filled: known texels keep their
    value; the others are filled from the next coarser level, each of whose texels is the mean of the known
    texels under it: within ``NEAR_LEVELS`` of the atlas, from the coarser texels around that hold known
    texels, weighted by how many; otherwise (and where none around holds any) from the bilinear blend of the
    coarser level as filled, the same way from above.

    OpenCV's resizing does the levels (area averaging down, bilinear up): on the development CPU each
    pass over a 2048 px atlas took 7 to 45 ms, where PyTorch's pooling and interpolation took 180 to
    490 ms, and it leaves Python's lock to the job's thread while it works.
    """
    import cv2  # here, not at the top: importing the jobs must not wait for OpenCV

    image = np.asarray(image, dtype=np.float32)
    if known.all() or not known.any():
        return image.copy()
    mask = known.astype(np.uint8)
    # Colour times weight, and the weight, side by side: one resizing a level.
    level = level0 = cv2.merge([cv2.copyTo(image, mask), mask.astype(np.float32)])
    levels = []
    while min(level.shape[:2]) > 1:
        height, width = level.shape[:2]
        # Area averaging to half the side: colour over weight is the mean of the known texels under it.
        level = cv2.resize(level, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_AREA)
        levels.append(level.reshape(level.shape[0], level.shape[1], -1))
    filled = _mean(levels[-1])
    finer_levels = [level0, *levels[:-1]]
    for depth in reversed(range(len(levels))):   # the coarsest first; depth 0 fills the atlas itself
        coarser, finer = levels[depth], finer_levels[depth]
        if depth < NEAR_LEVELS:
            # A texel takes the bilinear blend of the coarser texels around it that hold known texels, each
            # as much as it holds (colour times weight and weight blended apart, then divided): a hole beside
            # a chart takes the chart's colour and nothing of the gutter beyond. Where none around it holds
            # any, the blend of the coarser level as filled.
            blended = _upsampled(coarser, finer.shape)
            near = _mean(blended)
            np.copyto(near, _upsampled(filled, near.shape), where=blended[..., -1:] <= 0)
        else:
            # Farther out, each texel of the level keeps the mean of the known texels under it, and the
            # others take the smooth blend of the level above as filled.
            near = _mean(finer)
            np.copyto(near, _upsampled(filled, near.shape), where=finer[..., -1:] <= 0)
        filled = near
    return cv2.copyTo(image, mask, filled)


def _mean(level: np.ndarray) -> np.ndarray:
    """A level's colour (colour times weight over weight; 0 where the weight is 0)."""
    return level[..., :-1] / np.maximum(level[..., -1:], np.finfo(np.float32).tiny)


def _upsampled(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``image`` resized bilinearly to ``shape``'s height and width (texel centres aligned, as OpenCV does)."""
    import cv2

    resized = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return resized.reshape(shape[0], shape[1], image.shape[-1])


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
