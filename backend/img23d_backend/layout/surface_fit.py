"""Each mesh fitted to its own points: how far along its line of sight it stands (``layout.Anchor.shift``).

The layout stands the front of an object's bounds at the median distance of its visible surface. That is its
front only for a face square to the camera: a table turned 40 degrees shows its top and legs, a ball its near
half, a pole its round side, and each is then placed too far by part of its depth (a turned table by 0.4 m at
3.4 m). And the layout centres an object's projection on its box, which is not its own where a nearer target
hides one side of it (a ball half behind a barrel went 18 cm towards its seen side). Once its mesh is made, the
mesh, stood where the layout puts it, is seen through the layout's camera on a grid over its matte's pixels (points
sampled on its surface, those facing the camera, the nearest in each cell: a rasterizer took 3 s an object of 40,000
triangles on this project's CPU, the points a tenth of that whatever its size). The median difference between
the surface the picture measured and the one the mesh shows there (the picture's own pixels of it only: what
hides part of it, and what its matte leaves out, say nothing) moves it along its horizontal line of sight; the
median difference between its matte's own side edges (a side edge next to a nearer target or the picture's edge
is not its own) and the mesh's silhouette's, row by row, moves the centre its projection is put on. It stays on
what it stands on, and its size stays the one its points measured. A few steps settle it (each step moves the
silhouette, so the pixels compared change). Both are recorded in the target's depth entry
(``img23d_protocol.layout.SHIFT_KEY`` and ``ACROSS_KEY``) and the protocol's layout applies them, so Re-layout,
Import Run and a print stand the object where the backend did.

Only a metric map's points can do this (a relative map's distances are ratios, not metres); without them, or
with fewer than ``MIN_SAMPLES`` pixels where the picture and the mesh both have a surface, the object stands
where its median put it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from img23d_protocol.layout import Camera, SceneLayout

from .standing import MeshSurface

MAX_SIDE = 96          # the grid's longer side over the matte, in samples: enough for a median, cheap to rasterize
MARGIN = 0.25          # the grid reaches this share of the matte's longer side beyond it: the mesh may show there
MIN_SAMPLES = 24       # fewer pixels where the picture and the mesh both have a surface, and nothing is fitted
STEPS = 8              # the most steps a fit takes
SETTLED_M, SETTLED_PX = 0.002, 0.5   # steps shorter than these end it
SAMPLES_PER_CELL = 6   # surface points sampled per grid cell: enough that most cells the mesh covers get a front one
MIN_POINTS, MAX_POINTS = 4000, 80_000
NEAR = 0.01            # metres: a point nearer the camera than this is behind it


@dataclass(frozen=True)
class SeenSurface:
    """A target's own pixels on a grid: the planar depth the picture measured at every ``step``-th pixel from
    (``left``, ``top``), NaN where the pixel is another target's, the background, has no surface or lies outside
    the picture; and, for each grid row, where its matte's left and right edges are in the picture's pixels (the
    left side of its first pixel, the right side of its last), NaN where that edge is not its own."""

    left: int
    top: int
    step: int
    depth: np.ndarray     # float32 [rows, columns], metres
    left_edge: np.ndarray   # float32 [rows], picture pixels
    right_edge: np.ndarray  # float32 [rows], picture pixels

    @property
    def samples(self) -> int:
        return int(np.isfinite(self.depth).sum())


def seen_surface(points: np.ndarray, labels: np.ndarray, label: int) -> SeenSurface | None:
    """Target ``label``'s pixels of the metric map ``points`` (camera frame) on a grid of at most ``MAX_SIDE`` a
    side (``labels``: each pixel's target, ``object_points.labels_of``); None with fewer than ``MIN_SAMPLES``."""
    mine = labels == label
    rows, columns = np.flatnonzero(mine.any(axis=1)), np.flatnonzero(mine.any(axis=0))
    if len(rows) == 0:
        return None
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1
    step = max(1, math.ceil(max(bottom - top, right - left) / MAX_SIDE))
    pad = math.ceil(MARGIN * max(bottom - top, right - left) / step)
    grid_rows = np.arange(top - pad * step, bottom + pad * step, step)
    grid_columns = np.arange(left - pad * step, right + pad * step, step)
    height, width = labels.shape
    inside_rows, inside_columns = (grid_rows >= 0) & (grid_rows < height), (grid_columns >= 0) & (grid_columns < width)
    r, c = np.clip(grid_rows, 0, height - 1)[:, None], np.clip(grid_columns, 0, width - 1)[None, :]
    z = points[r, c, 2]
    own = mine[r, c] & inside_rows[:, None] & inside_columns[None, :] & np.isfinite(z) & (z > 0)
    left_edge, right_edge = _own_edges(points, labels, label, np.clip(grid_rows, 0, height - 1))
    left_edge[~inside_rows] = right_edge[~inside_rows] = np.nan
    seen = SeenSurface(int(grid_columns[0]), int(grid_rows[0]), step, np.where(own, z, np.nan).astype(np.float32),
                       left_edge, right_edge)
    return seen if seen.samples >= MIN_SAMPLES else None


def _own_edges(points: np.ndarray, labels: np.ndarray, label: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's left and right edge of target ``label``'s pixels (picture pixels), NaN where the row has none or
    the edge is not its own: the pixel beyond it is the picture's edge or another target nearer the camera."""
    mine = labels[rows] == label
    width = labels.shape[1]
    has = mine.any(axis=1)
    first = np.argmax(mine, axis=1)
    last = width - 1 - np.argmax(mine[:, ::-1], axis=1)
    edges = []
    for edge, beyond, bound in ((first, first - 1, first.astype(np.float32)),
                                (last, last + 1, (last + 1).astype(np.float32))):
        outside = (beyond < 0) | (beyond >= width)
        near = np.clip(beyond, 0, width - 1)
        other = labels[rows, near]
        nearer = (other != 0) & (other != label) & \
            (np.nan_to_num(points[rows, near, 2], nan=np.inf) < np.nan_to_num(points[rows, edge, 2], nan=np.inf))
        edges.append(np.where(has & ~outside & ~nearer, bound, np.nan).astype(np.float32))
    return edges[0], edges[1]


def fit_shift(layout: SceneLayout, key: str, surface: MeshSurface, seen: SeenSurface) -> tuple[float, float] | None:
    """The shift (metres along the horizontal line of sight, ``Anchor.shift``) and the centring (pixels off its
    box's centre, ``Anchor.across``) that stand ``key``'s mesh (``surface``: points sampled on it, ``sample_count``
    of them for ``seen``) on the surface ``seen``; None where too little of the mesh and the picture's surface meet
    to tell."""
    extents = surface.extents
    anchor = layout.anchors[key]
    shift, across, fitted = anchor.shift, anchor.across, False
    x0, _, x1, _ = anchor.box
    for _ in range(STEPS):
        scene = replace(layout, anchors={**layout.anchors, key: replace(anchor, shift=shift, across=across)})
        placement = scene.place(key, extents)
        world, turned = surface.world(placement)
        camera = layout.camera
        rendered = rendered_depth(_camera_frame(camera, world), _camera_frame(camera, turned, moved=False), camera,
                                  seen)
        both = np.isfinite(seen.depth) & np.isfinite(rendered)
        if int(both.sum()) < MIN_SAMPLES:
            break
        reach = placement.scale * max(extents)     # no step moves it further than its own size
        ahead = math.hypot(*placement.location[:2])
        along = math.cos(layout.camera.pitch) * placement.location[1] / ahead if ahead > 1e-9 else 1.0
        if along < 0.1:   # its line of sight nearly across the camera's view: depth says little of where it stands
            break
        step = float(np.median(seen.depth[both] - rendered[both])) / along
        step = max(-reach / 2, min(reach / 2, step))
        shift, fitted = max(-reach, min(reach, shift + step)), True
        sideways = _edge_offset(seen, rendered)
        across = max(-(x1 - x0), min(x1 - x0, across + sideways))
        if abs(step) < SETTLED_M and abs(sideways) < SETTLED_PX:
            break
    return (round(shift, 4), round(across, 2)) if fitted else None


def _edge_offset(seen: SeenSurface, rendered: np.ndarray) -> float:
    """The median, over the rows where both are known, of how far (picture pixels, + right) the matte's own side
    edges lie from the rendered silhouette's; 0 where no own edge meets the silhouette."""
    shows = np.isfinite(rendered)
    has = shows.any(axis=1)
    columns = rendered.shape[1]
    # The silhouette's edges in picture pixels: each somewhere in its outermost cell, so at that cell's middle.
    first = np.argmax(shows, axis=1)
    last = columns - 1 - np.argmax(shows[:, ::-1], axis=1)
    left = seen.left + seen.step * (first + 0.5)
    right = seen.left + seen.step * (last + 0.5)
    gaps = np.concatenate([(seen.left_edge - left)[has], (seen.right_edge - right)[has]])
    gaps = gaps[np.isfinite(gaps)]
    return float(np.median(gaps)) if len(gaps) else 0.0


def rendered_depth(points: np.ndarray, normals: np.ndarray, camera: Camera, seen: SeenSurface) -> np.ndarray:
    """The planar depth the mesh shows at each cell of ``seen``'s grid through ``camera`` (``points`` on its
    surface and their ``normals``, in the camera frame): the nearest of its points facing the camera in each cell
    (the cell of grid pixel (r, c) spans the picture's pixels from (left + step c, top + step r), ``step`` a side);
    NaN where none falls."""
    rows, columns = seen.depth.shape
    depth = np.full(rows * columns, np.inf)
    front = (np.einsum("ij,ij->i", normals, points) < 0) & (points[:, 2] > NEAR)
    x, y, z = points[front].T
    u = camera.width / 2 + camera.focal * x / z
    v = camera.height / 2 + camera.focal * y / z
    column, row = np.floor((u - seen.left) / seen.step), np.floor((v - seen.top) / seen.step)
    inside = (column >= 0) & (column < columns) & (row >= 0) & (row < rows)
    np.minimum.at(depth, (row[inside] * columns + column[inside]).astype(np.int64), z[inside])
    return np.where(np.isfinite(depth), depth, np.nan).astype(np.float32).reshape(rows, columns)


def sample_count(seen: SeenSurface | None) -> int:
    """How many points to sample on a mesh fitted to ``seen`` (enough for most of its grid's cells to get a front
    one); the fewest for a mesh that is not fitted (its support's surface only)."""
    return min(MAX_POINTS, max(MIN_POINTS, SAMPLES_PER_CELL * seen.depth.size)) if seen is not None else MIN_POINTS


def _camera_frame(camera: Camera, world: np.ndarray, moved: bool = True) -> np.ndarray:
    """World points (Blender's axes) in ``camera``'s frame (``Camera.to_camera`` over many at once); directions
    (``moved`` False) are turned only."""
    s, c = math.sin(camera.pitch), math.cos(camera.pitch)
    y, z = world[:, 1], world[:, 2] - (camera.elevation if moved else 0.0)
    return np.stack([world[:, 0], -s * y - c * z, c * y - s * z], axis=1)
