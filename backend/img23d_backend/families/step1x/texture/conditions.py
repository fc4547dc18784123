"""The model's two image conditions, prepared as upstream prepares them.

The reference picture (``Step1X3DTexturePipeline.preprocess_image``, applied to a cut-out that has
alpha, which img23d's always has): crop to the box of the pixels with any alpha (one pixel of
margin before, as upstream's slice gives), scale its longer side to 0.9 of the view, centre it on a
transparent square of the view's size, then composite on mid grey (0.5). A picture without alpha
is used as it is, as upstream does when it removes no background.

The control maps (``run_ig2mv_pipeline`` and the training data's ``position_offset: 0.5``,
``position_scale: 1.0``): for each of the six views, the surface position seen at each pixel in
the mesh's normalised frame (coordinates within +-0.5) plus 0.5, and the world-space unit normal
/ 2 + 0.5, each clamped to [0, 1], stacked as six channels (position RGB, then normal RGB).
Background pixels read 0.5 in both (position 0 and normal 0 before the offset, as upstream's
rasterizer leaves them).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

REFERENCE_FILL = 0.9        # the object's longer side, as a fraction of the view
REFERENCE_BACKGROUND = 0.5  # mid grey
POSITION_OFFSET = 0.5
POSITION_SCALE = 1.0


def prepare_reference(image: Image.Image, size: int) -> Image.Image:
    """The reference picture for ``size`` x ``size`` views (RGB)."""
    if "A" not in image.getbands():
        return image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    rgba = np.array(image.convert("RGBA"))
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    if ys.size == 0:
        raise ValueError("the reference cut-out is fully transparent: there is nothing to texture from")
    height, width = rgba.shape[:2]
    top, bottom = max(int(ys.min()) - 1, 0), min(int(ys.max()) + 1, height)
    left, right = max(int(xs.min()) - 1, 0), min(int(xs.max()) + 1, width)
    crop = rgba[top:bottom, left:right]
    rows, cols = crop.shape[:2]
    if rows > cols:
        cols, rows = int(cols * (size * REFERENCE_FILL) / rows), int(size * REFERENCE_FILL)
    else:
        rows, cols = int(rows * (size * REFERENCE_FILL) / cols), int(size * REFERENCE_FILL)
    scaled = np.array(Image.fromarray(crop).resize((max(cols, 1), max(rows, 1)), Image.Resampling.BICUBIC))
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    start_row, start_col = (size - scaled.shape[0]) // 2, (size - scaled.shape[1]) // 2
    canvas[start_row:start_row + scaled.shape[0], start_col:start_col + scaled.shape[1]] = scaled
    picture = canvas.astype(np.float32) / 255.0
    alpha = picture[..., 3:4]
    rgb = picture[..., :3] * alpha + (1 - alpha) * REFERENCE_BACKGROUND
    return Image.fromarray((rgb * 255).clip(0, 255).astype(np.uint8))


def control_maps(positions: torch.Tensor, normals: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The condition encoder's input from rendered views: ``positions`` and ``normals`` [V, H, W, 3]
    (positions in the mesh's frame scaled to +-0.5, unit normals), ``masks`` [V, H, W] (True where the
    mesh is seen) -> [V, 6, H, W] in [0, 1]."""
    if positions.shape != normals.shape or positions.shape[:3] != masks.shape or positions.shape[-1] != 3:
        raise ValueError(f"position maps {tuple(positions.shape)}, normal maps {tuple(normals.shape)} and masks "
                         f"{tuple(masks.shape)} should be [views, height, width, 3], twice, and [views, height, width]")
    seen = masks[..., None].to(positions.dtype)
    position = (positions * POSITION_SCALE * seen + POSITION_OFFSET).clamp(0, 1)
    normal = (normals * seen / 2 + 0.5).clamp(0, 1)
    return torch.cat([position, normal], dim=-1).permute(0, 3, 1, 2).contiguous()


def check_controls(controls: torch.Tensor, views: int, size: int) -> None:
    """Refuse control maps that are not ``views`` x 6 x ``size`` x ``size`` in [0, 1]."""
    if tuple(controls.shape) != (views, 6, size, size):
        raise ValueError(f"the control maps are {tuple(controls.shape)}: expected {(views, 6, size, size)} "
                         "(position and normal per view, as control_maps makes them)")
    if not torch.isfinite(controls).all() or controls.min() < 0 or controls.max() > 1:
        raise ValueError("the control maps hold values outside [0, 1]: encode positions and normals with control_maps")
