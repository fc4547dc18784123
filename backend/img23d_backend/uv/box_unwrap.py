"""The paint stage's UV unwrap: box projection (the way SF3D's unwrapper charts a mesh), cut and packed here.

Each face goes to the axis of a cube its normal faces most, its neighbours voting (``box_charts``); a chart
is a connected run of faces on one axis, seen along it. Charts that would lie over themselves, or pack
badly (longer than 0.4 of the atlas, rings with an empty middle), are cut (``chart_cuts``); the charts are
then dropped onto a skyline (``chart_packing``). Every face keeps the triangle order and corner order it
came with, is seen from its own side (counter-clockwise in UV, never turned over) and along an axis it
faces by a cosine over 0.4, so it keeps over 0.4 of its area.

Why this and not xatlas's defaults, chosen by measurement (issue 89: the unwrap at most a quarter of
xatlas's time, as good a layout). xatlas took 5.1 s for the real Hunyuan3D-2 mesh (40,000 faces) on the
project's 2-core CPU and 13.5 to 17 s on a GPU machine's host, most of a textured object's 20 s goal.

- xatlas's own options cannot give a quarter: its packing is a few per cent of its time (repacking its
  own charts took 0.3 to 0.9 s of its 8 to 33 s, under load), and the chart options tried (no relocation
  pass, higher ``max_cost``, other weights) moved the whole by -30 % to +50 %.
- xatlas's packer given charts made here (``add_uv_mesh``) laid charts over each other (21 of 183 on the
  real mesh, 162 of 197 on the AI-like lamp), so the packing is img23d's.
- A box projection solves nothing: its work is a few passes over the faces, a test for overlaps, and the
  packing. xatlas's layout of the real mesh had one chart over itself and 41 % of its faces turned over.
- A simplified proxy, parts in parallel and charts clustered on the GPU (TRELLIS.2's) were not tried: the
  box unwrap met the bar on one core with room to spare, and a GPU would have been one more claim on the
  device that paints.

``bench/unwrap_quality.py`` (``bench/results/unwrap-quality-cpu.json``: six meshes, five runs each, the two
interleaved, the CPU shared with other sessions): the real mesh 0.87 s against xatlas's 12.9 s (0.07 of its
time; 0.6 against 7.5 CPU seconds), no overlapping chart (xatlas's: one), texel use at 2048 texels 0.577
against 0.597 (0.97 of it), stretch p90 1.22 against 1.16 (1.05 times). The example house, a decimated
marching-cubes blob and three AI-like meshes: 0.02 to 0.07 of xatlas's time, texel use 0.94 to 1.17 of
its, stretch 1.05 to 1.15 times its.
"""

from __future__ import annotations

import numpy as np

from .box_charts import BoxCharts, box_charts, face_pairs, face_uv, projected
from .chart_cuts import unwieldy_cut, untangled
from .chart_packing import FILL, pack


def box_unwrap(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the new vertices' source indices, faces over them in the order given, one UV in [0, 1] per new vertex)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if not len(faces):
        return np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.int64), np.zeros((0, 2))
    # One unit across, about the middle: the tolerances below are in units, the layout is the same at any scale.
    # A corner with no place (NaN, infinite) is put in the middle: its faces get UVs of no size, the rest theirs.
    finite = np.isfinite(vertices).all(axis=1)
    low = vertices[finite].min(axis=0) if finite.any() else np.zeros(3)
    high = vertices[finite].max(axis=0) if finite.any() else np.zeros(3)
    vertices = np.where(finite[:, None], vertices - (low + high) / 2, 0.0) / max(float((high - low).max()), 1e-300)
    # Faces meet where their corners are at one place, as in the mesh's shape: a file whose faces each have
    # corners of their own (split for flat shading) is charted as the surface it shows.
    _, place = np.unique(vertices, axis=0, return_inverse=True)
    first, second = face_pairs(place.reshape(-1)[faces], len(vertices))
    charts = box_charts(vertices, faces, first, second)
    corners = face_uv(vertices, faces, charts.axis)
    chart = untangled(corners, charts.chart, first, second)
    chart = unwieldy_cut(corners, chart, first, second, FILL)
    source, new_faces, uv = projected(vertices, faces, BoxCharts(chart, charts.axis))
    return source, new_faces, pack(uv, new_faces, chart)
