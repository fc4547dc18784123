"""Hunyuan3D-2's rasterizer and hole filling for baking into a mesh's own UVs (``uv.retexture.UVBake``):
the port of its compiled rasterizer (``raster``) and its filling (``uv.fill``: colours spread
over the surface, then inpainting), as its paint pipeline bakes with them."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...uv.fill import fill_texture
from ...uv.retexture import UVBake


def _rasterize(*args: Any, **kwargs: Any) -> Any:
    from .raster import rasterize  # torch: imported when a bake runs, not with the family

    return rasterize(*args, **kwargs)


def _interpolate(*args: Any, **kwargs: Any) -> Any:
    from .raster import interpolate

    return interpolate(*args, **kwargs)


def _fill(texture: np.ndarray, covered: np.ndarray, target: Any, texel_faces: np.ndarray) -> np.ndarray:
    return fill_texture(texture, covered, np.asarray(target.vertices), np.asarray(target.faces),
                        np.asarray(target.visual.uv))


UV_BAKE = UVBake(rasterize=_rasterize, interpolate=_interpolate, fill=_fill)
