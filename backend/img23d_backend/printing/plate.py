"""Where each object stands on the build plate: the layout's places, spread apart where they would overlap.

Every object stands on the plate (its flat base at Z = 0), wherever the scene put it: a chimney on a roof is
printed beside the house, not in the air. Seen from above, the objects keep the places the layout gave them,
scaled with everything else, as long as no two footprints overlap (with ``CLEARANCE_MM`` between them); where
any do, the plate is laid out again in one row, left to right in the scene's order, ``GAP_MM`` apart. Either
way the whole plate is centred on ``PLATE_CENTRE_MM``: a 3MF's coordinates are the printer bed's, whose origin
is its front left corner, and every common bed (Prusa MK4, Bambu X1/P1, Ender 3) holds (100, 100) mm. A plate
wider or deeper than ``COMMON_BED_MM`` is still written, with a sentence that says its size (``bed_note``): 300
objects in a row made a plate 8.4 m wide and nothing said so.
"""

from __future__ import annotations

from dataclasses import dataclass

PLATE_CENTRE_MM = (100.0, 100.0)
CLEARANCE_MM = 1.0
GAP_MM = 5.0
# A large common bed (Bambu X1/P1: 256 x 256 mm; a Prusa MK4's is 250 x 210, an Ender 3's 220 x 220).
COMMON_BED_MM = 256.0

Footprint = tuple[float, float, float, float]  # x0, y0, x1, y1 in millimetres


@dataclass
class Plate:
    moves: dict[str, tuple[float, float]]   # name -> (dx, dy) that puts its footprint where it is printed
    spread: bool                            # laid out again in a row, as footprints overlapped
    size_mm: tuple[float, float]            # the plate's used width and depth


def arrange(footprints: dict[str, Footprint]) -> Plate:
    """The move of each footprint on the plate (``footprints`` in the scene's millimetres, in its order)."""
    names = list(footprints)
    spread = any(_overlap(footprints[a], footprints[b]) for i, a in enumerate(names) for b in names[i + 1:])
    placed = dict(footprints)
    if spread:
        cursor = 0.0
        for name in sorted(names, key=lambda n: (footprints[n][0] + footprints[n][2]) / 2):
            x0, y0, x1, y1 = footprints[name]
            placed[name] = (cursor, -(y1 - y0) / 2, cursor + x1 - x0, (y1 - y0) / 2)
            cursor += x1 - x0 + GAP_MM
    low_x, low_y = min(p[0] for p in placed.values()), min(p[1] for p in placed.values())
    high_x, high_y = max(p[2] for p in placed.values()), max(p[3] for p in placed.values())
    shift = (PLATE_CENTRE_MM[0] - (low_x + high_x) / 2, PLATE_CENTRE_MM[1] - (low_y + high_y) / 2)
    moves = {name: (placed[name][0] - footprints[name][0] + shift[0], placed[name][1] - footprints[name][1] + shift[1])
             for name in names}
    return Plate(moves, spread, (high_x - low_x, high_y - low_y))


def bed_note(plate: Plate) -> str | None:
    """The sentence for a plate larger than a common bed, or None where it fits one."""
    width, depth = plate.size_mm
    if width <= COMMON_BED_MM and depth <= COMMON_BED_MM:
        return None
    return (f"the plate is {width:,.0f} x {depth:,.0f} mm, larger than a common bed ({COMMON_BED_MM:.0f} x "
            f"{COMMON_BED_MM:.0f} mm): print fewer objects at once (--only) or a smaller --height-mm, or split it "
            "in the slicer")


def _overlap(a: Footprint, b: Footprint) -> bool:
    return (a[0] < b[2] + CLEARANCE_MM and b[0] < a[2] + CLEARANCE_MM and
            a[1] < b[3] + CLEARANCE_MM and b[1] < a[3] + CLEARANCE_MM)
