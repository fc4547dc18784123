"""A solid hollowed to a wall of the asked thickness, with drain holes at the lowest points of its hollow.

The hollow is everything inside the solid further than ``wall_mm`` from its surface. manifold3d has an exact
inward offset (``minkowski_difference``), but on a curved, non-convex mesh it took 73 s for 5,000 triangles here,
so the hollow comes from a grid instead, the way resin slicers make theirs:

- which grid points are inside: the solid sliced at each layer of points (manifold3d's ``slice``, exact), each
  slice's polygons filled row by row (even-odd);
- how far each inside point is from the surface: the nearest of points laid on every triangle closer than half a
  cell apart (a k-d tree, SciPy's). Near a wall's inner face (the only place the value matters) that is within
  ``spacing**2 / (6 * wall)`` of the true distance, a few hundredths of a millimetre, which the level adds back
  so that the wall is never thinner than asked;
- the hollow's surface: marching cubes (scikit-image) at the wall's distance, made a Manifold, and taken away
  from the solid (manifold3d's difference, exact).

Drain holes are upright cylinders from below the base into each pocket of the hollow at its lowest point (one per
pocket first, the rest spread over the largest pocket's floor, as far apart as they can be), taken away too. The
hollow drains when the solid is one connected surface afterwards (``decompose`` finds no sealed pocket). Holes
that would take the object rather than drain it (wider than its base, or most of it) are refused before any of
this, in one sentence (``drains_refused``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .remesh import surface_points
from .repair import arrays_of, to_manifold

MAX_CELLS = 8_000_000
CELLS_PER_WALL = 2.5      # grid points across one wall's thickness
HOLE_SEGMENTS = 24


@dataclass
class Hollowed:
    solid: object                            # the hollowed solid (manifold3d.Manifold), or the solid as it was
    hollow: bool                             # whether a hollow was made
    drained: bool = False                    # every pocket of the hollow is open to the outside
    holes: list[list[float]] = field(default_factory=list)  # each drain hole's centre (x, y) in mm
    note: str | None = None                  # why it stayed solid, or why the hollow does not drain


def drains_refused(name: str, solid: object, wall_mm: float, holes: int, drain_mm: float) -> str | None:
    """Why ``holes`` drain holes of ``drain_mm`` would take ``solid`` (mm, its base at Z = 0) rather than drain
    it, in one sentence; None when they leave it standing. Read from its footprint before any hollowing.

    The footprint is the solid's cross-section a wall's thickness above its base: where the holes, drilled up
    through the bottom wall, open into the hollow. For upright sides that is the flat base itself; for a round
    bottom (a ball with ``--base-mm 0`` touches the plate at a point) it is where the holes really pass. Refused:

    - a hole wider than that footprint: no disc of its width fits anywhere in it, so the hole takes the whole
      bottom (a drain wider than the object drilled it to nothing, or to a slab that failed its own height
      check). A hole that fits but leaves less than a wall beside it is drilled: it thins the wall there, which
      the wall measurement reports;
    - holes whose cross-sections together cover more than half the footprint's area: what is left between them
      is then less than what they take away, the floor they pierce is gone and the walls above stand on rims.
      A resin print drains through one hole of a few millimetres, so half is far beyond any hole that helps.

    A footprint with no room for the hollow's floor (nothing of it more than a wall from its edge) is left to the
    hollow: such an object is mostly too thin to hollow, and is then printed solid with nothing drilled (a
    turned chimney a few walls across), so its holes take nothing.
    """
    import manifold3d

    if holes == 0:
        return None
    footprint = solid.slice(float(wall_mm))  # type: ignore[attr-defined]
    if footprint.offset(-wall_mm, manifold3d.JoinType.Round).is_empty():
        return None
    if footprint.offset(-drain_mm / 2, manifold3d.JoinType.Round).is_empty():
        return (f"{name}'s {drain_mm:g} mm drain holes are wider than its base: drilled, they would take the "
                "object; give narrower drain holes, or none")
    area = float(footprint.area())
    taken = holes * np.pi * (drain_mm / 2) ** 2
    if taken > area / 2:
        return (f"{name}'s {holes} drain holes of {drain_mm:g} mm would take {taken:.0f} mm² of its {area:.0f} mm² "
                "base, more than half: give fewer or narrower drain holes, or none")
    return None


def hollow(name: str, solid: object, wall_mm: float, holes: int, drain_mm: float) -> Hollowed:
    """``solid`` (millimetres, its base at Z = 0) hollowed to ``wall_mm``, with ``holes`` drain holes."""
    import manifold3d

    low, high = (np.asarray(v) for v in np.split(np.asarray(solid.bounding_box()), 2))  # type: ignore[attr-defined]
    cell = max(wall_mm / CELLS_PER_WALL, float(np.prod(high - low) / MAX_CELLS) ** (1 / 3))
    axes = [np.arange(lo - cell, hi + 2 * cell, cell) for lo, hi in zip(low, high)]
    inside = _inside(solid, *axes)
    vertices, faces = arrays_of(solid)
    spacing = cell / 2
    level = wall_mm + spacing ** 2 / (6 * wall_mm)
    field_values = _distances(vertices, faces, axes, inside, spacing, level + 2 * cell)
    if field_values.max() <= level:
        deepest = 2 * float(field_values.max())
        return Hollowed(solid, False, note=f"{name} is nowhere thicker than {deepest:.1f} mm, too thin for a "
                                           f"{wall_mm:g} mm wall on each side: it is printed solid")
    from skimage.measure import marching_cubes

    verts, tris, _, _ = marching_cubes(field_values, level=level, spacing=(cell, cell, cell))
    cavity = to_manifold(verts + np.array([a[0] for a in axes]), tris[:, ::-1])  # wound outward (see remesh)
    if cavity.status() != manifold3d.Error.NoError or cavity.volume() <= 0:
        return Hollowed(solid, False, note=f"{name}'s hollow could not be made a closed surface: it is printed "
                                           "solid")
    shell = solid - cavity  # type: ignore[operator]
    if holes == 0:
        return Hollowed(shell, True, False, note=f"{name} is hollow and sealed (no drain holes): a resin print "
                                                 "traps liquid resin inside")
    pockets = sorted(cavity.decompose(), key=lambda pocket: -pocket.volume())
    centres = _hole_centres(pockets, holes, drain_mm)
    drills = [manifold3d.Manifold.cylinder(top + 1.0, drain_mm / 2, circular_segments=HOLE_SEGMENTS)
              .translate((x, y, -1.0)) for x, y, top in centres]
    drilled = shell - manifold3d.Manifold.batch_boolean(drills, manifold3d.OpType.Add)
    drained = len(drilled.decompose()) == 1
    note = None if drained else (f"{name}'s hollow has {len(pockets)} pockets and {holes} drain holes reach "
                                 "only some of them: a resin print traps liquid resin in the others")
    return Hollowed(drilled, True, drained, [[round(x, 2), round(y, 2)] for x, y, _ in centres], note)


def _inside(solid: object, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """Which grid points lie inside ``solid``: each layer's slice filled row by row (even-odd)."""
    inside = np.zeros((len(xs), len(ys), len(zs)), dtype=bool)
    for k, z in enumerate(zs):
        polygons = solid.slice(float(z)).to_polygons()  # type: ignore[attr-defined]
        if polygons:
            inside[:, :, k] = _fill(polygons, xs, ys)
    return inside


def _fill(polygons: list[np.ndarray], xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The grid points (x along rows, y along columns) inside the polygons, by even-odd crossings along y."""
    start = np.concatenate([np.asarray(p, dtype=np.float64) for p in polygons])
    end = np.concatenate([np.roll(np.asarray(p, dtype=np.float64), -1, axis=0) for p in polygons])
    flips = np.zeros((len(xs), len(ys) + 1), dtype=np.int32)
    low_x, high_x = np.minimum(start[:, 0], end[:, 0]), np.maximum(start[:, 0], end[:, 0])
    first = np.searchsorted(xs, low_x, side="left")
    last = np.searchsorted(xs, high_x, side="left")  # rows with low <= x < high: each vertex counted once
    count = last - first
    edge = np.repeat(np.arange(len(start)), count)
    row = np.repeat(first, count) + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
    x = xs[row]
    share = (x - start[edge, 0]) / (end[edge, 0] - start[edge, 0])
    y = start[edge, 1] + share * (end[edge, 1] - start[edge, 1])
    column = np.searchsorted(ys, y, side="left")  # the crossing flips every point at or above it
    np.add.at(flips, (row, column), 1)
    return (np.cumsum(flips, axis=1)[:, :-1] % 2).astype(bool)


def _distances(vertices: np.ndarray, faces: np.ndarray, axes: list[np.ndarray], inside: np.ndarray,
               spacing: float, reach: float) -> np.ndarray:
    """Each inside grid point's distance to the surface (capped at ``reach``); outside points -1."""
    from scipy.spatial import cKDTree

    tree = cKDTree(surface_points(vertices, faces, spacing))
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    values = np.full(inside.shape, -1.0, dtype=np.float32)
    distance, _ = tree.query(grid[inside], distance_upper_bound=reach)
    values[inside] = np.minimum(distance, reach)
    return values


def _hole_centres(pockets: list[object], holes: int, drain_mm: float) -> list[tuple[float, float, float]]:
    """(x, y, top) of each drain hole: each pocket's lowest point first, then spread over the largest's floor."""
    floors = []
    for pocket in pockets:
        points, _ = arrays_of(pocket)
        bottom = float(points[:, 2].min())
        floors.append(points[points[:, 2] <= bottom + max(drain_mm, 0.1 * float(np.ptp(points[:, 2])))])
    chosen: list[tuple[float, float, float]] = []
    for floor in floors[:holes]:
        chosen.append(_inset(floor, floor[int(np.argmin(floor[:, 2]))], drain_mm))
    while len(chosen) < holes:
        floor = floors[0]
        taken = np.array([(x, y) for x, y, _ in chosen])
        apart = np.min(np.linalg.norm(floor[:, None, :2] - taken[None], axis=2), axis=1)
        best = int(np.argmax(apart))
        if apart[best] < 3 * drain_mm:
            break  # the floor has no room for another hole apart from the others
        chosen.append(_inset(floor, floor[best], drain_mm))
    return chosen


def _inset(floor: np.ndarray, point: np.ndarray, drain_mm: float) -> tuple[float, float, float]:
    """A hole at ``point`` moved a hole's width toward the middle of its floor (a pocket's lowest point is often
    in a corner, where half the hole would cut the wall), its top half a hole above the floor."""
    towards = floor[:, :2].mean(axis=0) - point[:2]
    reach = float(np.linalg.norm(towards))
    centre = point[:2] + towards * min(1.0, drain_mm / reach) if reach > 0 else point[:2]
    return float(centre[0]), float(centre[1]), float(point[2]) + drain_mm / 2
