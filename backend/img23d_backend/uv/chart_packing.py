"""Charts packed into the unit square on a grid, each dropped onto a skyline like a Tetris piece.

Each chart is turned to its smallest box (of three tried) and scaled with all the others (one texel
density for the whole atlas). On a grid of cells (about ``CELLS`` across), a chart's footprint is every
cell its triangles' bounding boxes touch, grown by ``GUTTER`` cells, so two charts are at least two cells apart
(about four texels of a 2048-texel texture: xatlas's defaults leave about as much). Largest first, a
chart is tried in four quarter turns at every column and set where its top comes lowest, wasting the
fewest cells beneath it among equals. The skyline keeps each column's highest footprint, so a chart
never goes under another's overhang: footprints cannot meet, and charts cannot overlap.

The atlas's width is chosen so that it comes out about square (``ASPECT_TRIES`` packings at most); the
UVs are then scaled to the unit square across and up, as xatlas's are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CELLS = 1024  # cells across the atlas's width, at the first try
GUTTER = 1  # cells each footprint is grown by
FILL = 0.6  # the share of the atlas the charts' own area is expected to cover, for the first try
ASPECT_TRIES = 3
SQUARE_ENOUGH = 1.1  # height over width (or the inverse) that needs no other try
BLOCKS = 24  # runs of columns a wide chart is tested in (``_rest``)
ALONE = 96  # the largest charts, placed each alone; the others are shelved together in blocks (``_items``)
BLOCK = 128  # cells: a block's side, at the least
_LEAST = np.iinfo(np.int64).min


@dataclass(frozen=True)
class _Footprint:
    """A chart in one turn: each column's lowest cell and highest (exclusive); 0, 0 where it has none."""

    bottom: np.ndarray
    top: np.ndarray
    turn: int  # quarter turns anticlockwise


@dataclass(frozen=True)
class _Item:
    """What the skyline places: one chart, or a block of small charts shelved together. ``members``: each chart,
    its quarter turns and its column and row within the item's bitmap."""

    bitmap: np.ndarray
    members: tuple[tuple[int, int, int, int], ...]


@dataclass(frozen=True)
class _Placed:
    turn: int
    column: int
    row: int


def pack(uv: np.ndarray, faces: np.ndarray, face_chart: np.ndarray) -> np.ndarray:
    """UVs in [0, 1] with each chart of ``face_chart`` moved rigidly (turned, shifted, all scaled alike) so that
    no two meet. ``uv``: one per vertex, each vertex on the faces of one chart only."""
    uv, faces = np.asarray(uv, dtype=np.float64), np.asarray(faces, dtype=np.int64)
    face_chart = np.asarray(face_chart, dtype=np.int64)
    if not len(faces):
        return np.zeros((len(uv), 2))
    charts = int(face_chart.max()) + 1
    vertex_chart = np.zeros(len(uv), dtype=np.int64)
    vertex_chart[faces.ravel()] = np.repeat(face_chart, 3)
    local = _upright(uv, vertex_chart, charts)
    low = np.full((charts, 2), np.inf)
    np.minimum.at(low, vertex_chart, local)
    local -= low[vertex_chart]
    area = float(np.abs(_areas(local, faces)).sum())
    # Cells per unit: the charts' own area covers FILL of a CELLS-wide square.
    scale = CELLS * np.sqrt(FILL / area) if area > 0 else CELLS / max(float(local.max()), 1e-300)
    local = local * scale + GUTTER  # each chart GUTTER cells clear of its box's corner
    by_face = np.argsort(face_chart, kind="stable")
    bounds = np.searchsorted(face_chart[by_face], np.arange(charts + 1))
    bitmaps = [_bitmap(local[faces[by_face[bounds[chart]:bounds[chart + 1]]]]) for chart in range(charts)]
    items = _items(bitmaps)
    narrowest = max(min(item.bitmap.shape) for item in items)  # every item fits across in some turn
    width = max(CELLS, narrowest)
    best: tuple[float, list[_Placed], int, int] | None = None
    for _ in range(ASPECT_TRIES):
        placed, used, height = _skyline([item.bitmap for item in items], width)
        aspect = max(height / used, used / height)
        if best is None or aspect < best[0]:
            best = (aspect, placed, used, height)
        if aspect <= SQUARE_ENOUGH:
            break
        width = max(narrowest, int(round(np.sqrt(used * height))))
    _, placed, used, height = best
    # Each chart's move as one map: its turn and place within its item, then the item's.
    matrix, offset = np.zeros((charts, 2, 2)), np.zeros((charts, 2))
    for item, place in zip(items, placed):
        outer, outer_offset = _turn_map(place.turn, item.bitmap.shape)
        for chart, turn, column, row in item.members:
            inner, inner_offset = _turn_map(turn, bitmaps[chart].shape)
            matrix[chart] = outer @ inner
            offset[chart] = outer @ (inner_offset + (column, row)) + outer_offset + (place.column, place.row)
    moved = np.einsum("nij,nj->ni", matrix[vertex_chart], local) + offset[vertex_chart]
    return moved / (used, height)


def _turn_map(turn: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The map (a matrix and an offset) that turns points (in cells) as ``_footprints`` turns a bitmap of ``shape``
    (rows, columns): each quarter turn anticlockwise takes (x, y) to (rows - y, x)."""
    matrix, offset = np.eye(2), np.zeros(2)
    rows, columns = shape
    quarter = np.array([[0.0, -1.0], [1.0, 0.0]])
    for _ in range(turn):
        matrix, offset = quarter @ matrix, quarter @ offset + (rows, 0)
        rows, columns = columns, rows
    return matrix, offset


def _items(bitmaps: list[np.ndarray]) -> list[_Item]:
    """What the skyline places, largest first: the ``ALONE`` largest charts each alone, the others shelved together
    in square blocks (``BLOCK`` cells, or three of the largest shelved chart's sides), tallest first, each turned
    to lie flat. Placing a block costs what placing a chart does, so a mesh of thousands of little pieces packs
    in a few hundred steps."""
    order = sorted(range(len(bitmaps)), key=lambda chart: -bitmaps[chart].size)
    items = [_Item(bitmaps[chart], ((chart, 0, 0, 0),)) for chart in order[:ALONE]]
    small = sorted(order[ALONE:], key=lambda chart: -min(bitmaps[chart].shape))
    side = max([BLOCK] + [3 * max(bitmaps[chart].shape) for chart in small])
    members: list[tuple[int, int, int, int]] = []
    column = row = tallest = 0
    for chart in small:
        rows, columns = sorted(bitmaps[chart].shape)
        if column + columns > side:  # the shelf is full: the next one above it
            column, row, tallest = 0, row + tallest, 0
        if row + rows > side:  # the block is full
            items.append(_block(members, bitmaps))
            members, column, row, tallest = [], 0, 0, 0
        members.append((chart, int(bitmaps[chart].shape[0] > bitmaps[chart].shape[1]), column, row))
        column, tallest = column + columns, max(tallest, rows)
    if members:
        items.append(_block(members, bitmaps))
    return sorted(items, key=lambda item: -item.bitmap.size)


def _block(members: list[tuple[int, int, int, int]], bitmaps: list[np.ndarray]) -> _Item:
    """Small charts at their places on a shelf (``members``: chart, quarter turns, column, row) as one item."""
    turned = [bitmaps[chart] if not turn else bitmaps[chart][::-1].T for chart, turn, _, _ in members]
    rows = max(row + bitmap.shape[0] for (_, _, _, row), bitmap in zip(members, turned))
    columns = max(column + bitmap.shape[1] for (_, _, column, _), bitmap in zip(members, turned))
    block = np.zeros((rows, columns), dtype=bool)
    for (_, _, column, row), bitmap in zip(members, turned):
        block[row:row + bitmap.shape[0], column:column + bitmap.shape[1]] |= bitmap
    return _Item(block, tuple(members))


def _areas(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    corners = uv[faces]
    first, second = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return 0.5 * (first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0])


def _upright(uv: np.ndarray, vertex_chart: np.ndarray, charts: int) -> np.ndarray:
    """Each chart's vertices turned so that its box is the smallest of three: along its principal axes (of its
    vertices' spread), along u and v, or at 45 degrees to them."""
    count = np.maximum(np.bincount(vertex_chart, minlength=charts), 1)
    mean = np.stack([np.bincount(vertex_chart, uv[:, k], charts) for k in range(2)], axis=1) / count[:, None]
    centred = uv - mean[vertex_chart]
    xx = np.bincount(vertex_chart, centred[:, 0] ** 2, charts)
    yy = np.bincount(vertex_chart, centred[:, 1] ** 2, charts)
    xy = np.bincount(vertex_chart, centred[:, 0] * centred[:, 1], charts)
    best_area, best = np.full(charts, np.inf), np.zeros_like(uv)
    for angle in (0.5 * np.arctan2(2 * xy, xx - yy), np.zeros(charts), np.full(charts, np.pi / 4)):
        cos, sin = np.cos(angle)[vertex_chart], np.sin(angle)[vertex_chart]
        turned = np.stack([cos * centred[:, 0] + sin * centred[:, 1], -sin * centred[:, 0] + cos * centred[:, 1]],
                          axis=1)
        low, high = np.full((charts, 2), np.inf), np.full((charts, 2), -np.inf)
        np.minimum.at(low, vertex_chart, turned)
        np.maximum.at(high, vertex_chart, turned)
        area = np.prod(high - low, axis=1) * (1 - 1e-9)  # among equal boxes, the first kept
        smaller = area < best_area
        best_area = np.where(smaller, area, best_area)
        best = np.where(smaller[vertex_chart][:, None], turned, best)
    return best


def _bitmap(corners: np.ndarray) -> np.ndarray:
    """The cells (rows up, columns across) that the triangles' bounding boxes touch, grown by ``GUTTER``:
    ``corners`` (faces, 3, 2) in cells, GUTTER clear of the origin on both axes."""
    low = np.floor(corners.min(axis=1)).astype(np.int64)
    high = np.floor(corners.max(axis=1)).astype(np.int64) + 1  # exclusive
    rows, columns = int(high[:, 1].max()) + GUTTER, int(high[:, 0].max()) + GUTTER
    # Each box added to a difference table, then summed up both ways: every box in a few passes.
    stride = columns + 1
    table = np.zeros((rows + 1) * stride, dtype=np.int64)
    for row, column, sign in ((low[:, 1], low[:, 0], 1), (low[:, 1], high[:, 0], -1),
                              (high[:, 1], low[:, 0], -1), (high[:, 1], high[:, 0], 1)):
        table += sign * np.bincount(row * stride + column, minlength=len(table))
    cells = table.reshape(rows + 1, stride).cumsum(axis=0).cumsum(axis=1)[:rows, :columns] > 0
    for axis in (0, 1):
        grown = cells.copy()
        for shift in range(1, GUTTER + 1):
            ahead = [slice(None)] * 2
            behind = [slice(None)] * 2
            ahead[axis], behind[axis] = slice(shift, None), slice(None, -shift)
            grown[tuple(ahead)] |= cells[tuple(behind)]
            grown[tuple(behind)] |= cells[tuple(ahead)]
        cells = grown
    return cells


def _footprints(bitmap: np.ndarray) -> list[_Footprint]:
    """A chart's footprint in each of four quarter turns of its ``bitmap``."""
    found = []
    for turn in range(4):
        rows = bitmap.shape[0]
        used = bitmap.any(axis=0)
        bottom = np.where(used, bitmap.argmax(axis=0), 0)
        top = np.where(used, rows - bitmap[::-1].argmax(axis=0), 0)
        found.append(_Footprint(bottom, top, turn))
        bitmap = bitmap[::-1].T  # a quarter turn anticlockwise: (x, y) -> (rows - y, x)
    return found


def _skyline(bitmaps: list[np.ndarray], width: int) -> tuple[list[_Placed], int, int]:
    """Each chart's place (``bitmaps``, in the order given) on an atlas at most ``width`` cells wide, and the
    cells the atlas took across and up."""
    sky = np.zeros(width, dtype=np.int64)
    placed = []
    for bitmap in bitmaps:
        best = None
        for footprint in _footprints(bitmap):
            if len(footprint.bottom) > width:
                continue
            rest = _rest(sky, footprint)
            used = footprint.top > 0
            # The cells left empty beneath the chart: its bottoms over the skyline's tops.
            waste = (int(used.sum()) * rest + int(footprint.bottom[used].sum())
                     - np.correlate(sky, used.astype(sky.dtype), mode="valid"))
            reach = rest + int(footprint.top.max())
            column = int(np.lexsort((waste, reach))[0])
            score = (int(reach[column]), int(waste[column]))
            if best is None or score < best[0]:
                best = (score, footprint, column, int(rest[column]))
        _, footprint, column, row = best
        covered = slice(column, column + len(footprint.top))
        sky[covered] = np.where(footprint.top > 0, row + footprint.top, sky[covered])
        placed.append(_Placed(footprint.turn, column, row))
    return placed, int(np.flatnonzero(sky).max()) + 1 if sky.any() else 1, max(int(sky.max()), 1)


def _rest(sky: np.ndarray, footprint: _Footprint) -> np.ndarray:
    """For each column the chart's left edge may take, the least row at which its footprint clears the
    skyline. A wide chart is tested in ``BLOCKS`` runs of columns, each at its lowest bottom against the
    skyline's highest top over it: never lower than the exact answer, so never overlapping."""
    span = len(footprint.bottom)
    used = footprint.top > 0
    if span <= 2 * BLOCKS:
        windows = sliding_window_view(sky, span)
        return np.maximum(np.where(used, windows - footprint.bottom, _LEAST).max(axis=1), 0)
    run = -(-span // BLOCKS)
    highest = sliding_window_view(np.concatenate([sky, np.zeros(run, dtype=sky.dtype)]), run).max(axis=1)
    places = len(sky) - span + 1
    rest = np.zeros(places, dtype=sky.dtype)
    for start in range(0, span, run):
        block = slice(start, min(start + run, span))
        if used[block].any():
            np.maximum(rest, highest[start:start + places] - footprint.bottom[block][used[block]].min(), out=rest)
    return rest
