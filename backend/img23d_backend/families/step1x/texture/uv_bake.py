"""The licence-clean family's rasterizer and hole filling for baking into a mesh's own UVs
(``uv.retexture.UVBake``): img23d's own rasterizer (``clean_raster``) and the pull-push
filling per UV chart (``atlas_fill``), as its paint model's bake uses them; nothing derived from
Tencent's code (re-texturing a mesh above the face budget goes through here)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....clean_raster import interpolate, rasterize
from ....uv.retexture import UVBake
from .atlas_fill import OUTSIDE, Charts, face_charts, fill_atlas


def _fill(texture: np.ndarray, covered: np.ndarray, target: Any, texel_faces: np.ndarray) -> np.ndarray:
    """Each chart's unreached texels from its reached ones; ``texel_faces`` (face index + 1 per
    texel, image rows) says which chart each texel is in."""
    face_chart, touching = face_charts(np.asarray(target.faces), np.asarray(target.vertices))
    texel_chart = np.where(texel_faces > 0, face_chart[np.maximum(texel_faces - 1, 0)], OUTSIDE)
    return fill_atlas(texture, covered, Charts(face_chart=face_chart, texel_chart=texel_chart, touching=touching))


UV_BAKE = UVBake(rasterize=rasterize, interpolate=interpolate, fill=_fill)
