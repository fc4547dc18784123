"""Each object's one display colour for the 3MF, from its texture or its vertex colours.

The 3MF core's ``<basematerials>`` give an object one colour (an sRGB ``displaycolor``), the one colour a 3MF can
carry for any reader (PrusaSlicer 2.5 ignores it and shows its filament's colour: bench/slicer_read.py); a painted
texture is not printed by any slicer. So the colour is the texture read at each triangle's middle (its corners'
UVs averaged), averaged by the triangles' areas; or the vertex colours (linear, as glTF keeps them) averaged the
same way and turned back into sRGB. A mesh with neither has no colour, and its object gets none.
"""

from __future__ import annotations

import numpy as np

from ..readers.artist_mesh import ArtistMesh
from ..readers.colour_space import linear_to_srgb


def display_colour(mesh: ArtistMesh) -> tuple[int, int, int] | None:
    """The mesh's colour as 8-bit sRGB, or None when it has none."""
    corners = mesh.positions[mesh.triangles]
    areas = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    if areas.sum() <= 0:
        return None
    weights = areas / areas.sum()
    if mesh.base_color is not None and mesh.loop_uvs is not None:
        image = np.asarray(mesh.base_color)
        middle = mesh.loop_uvs[mesh.triangle_loops].mean(axis=1)  # (T, 2): Blender's UVs, V up from the bottom
        height, width = image.shape[:2]
        column = np.clip((middle[:, 0] % 1.0) * width, 0, width - 1).astype(np.int64)
        row = np.clip((1.0 - middle[:, 1] % 1.0) * height, 0, height - 1).astype(np.int64)  # rows from the top
        texels = image[row, column, :3].astype(np.float64)
        return _rounded(weights @ texels)
    if mesh.vertex_colors is not None:
        linear = np.asarray(mesh.vertex_colors, dtype=np.float64)[:, :3] / 255.0
        per_triangle = linear[mesh.triangles].mean(axis=1)
        return _rounded(np.asarray(linear_to_srgb(weights @ per_triangle)) * 255.0)
    return None


def _rounded(values: np.ndarray) -> tuple[int, int, int]:
    red, green, blue = (int(round(float(v))) for v in np.clip(values, 0, 255))
    return red, green, blue
