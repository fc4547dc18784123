"""Each object made ready to print, in memory: read, repaired, placed, scaled, cut flat, hollowed, measured.

Two passes, because the scale of the plate depends on every object: ``read_and_repair`` makes each one solid in
its own units and places it in the scene (its height there known); once the reference object's height fixes the
millimetres, ``make_ready`` scales, cuts and hollows each. An object that cannot be printed gets its one
sentence in its record (``refused``) and the others go on; nothing is written here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from img23d_protocol import MAX_PRINT_TRIANGLES, PrintRequest, ProtocolError

from ..layout.standing import world_matrix
from ..readers.artist_mesh import ArtistMesh, load_artist_mesh
from ..readers.meshes import artist_mesh_file
from .colour import display_colour
from .hollow import drains_refused, hollow
from .record import HollowRecord, ObjectRecord
from .repair import Repaired, arrays_of, repair
from .scale import flat_base
from .sources import Placed, PrintInput, PrintSource
from .thickness import thinnest_wall

Say = Callable[[str], None]


@dataclass
class Prepared:
    source: PrintSource
    record: ObjectRecord
    mesh: ArtistMesh | None = None
    repaired: Repaired | None = None
    matrix: np.ndarray | None = None      # mesh units -> the scene (metres, Blender's axes), 3 x 4
    world_height: float = 0.0
    solid: object | None = None           # ready: millimetres, the scene's X and Y, its base at Z = 0
    colour: tuple[int, int, int] | None = None
    started: float = 0.0

    @property
    def ready(self) -> bool:
        return self.solid is not None and self.record.refused is None


def read_and_repair(source: PrintSource, found: PrintInput, say: Say) -> Prepared:
    """``source`` read and repaired in its own units, and where the scene stands it."""
    where = source.mesh.relative_to(found.run_dir) if source.mesh and found.run_dir and \
        found.run_dir in source.mesh.parents else source.mesh
    item = Prepared(source, ObjectRecord(source.name, source.stem, str(where or "")), started=time.monotonic())
    if source.refused is not None or source.mesh is None:
        item.record.refused = source.refused
        return item
    say(f"{source.name}: reading {source.mesh.name}")
    try:
        with artist_mesh_file(source.mesh, colour=True) as mesh_file:
            item.mesh = load_artist_mesh(mesh_file, name=source.name)
    except ProtocolError as exc:
        item.record.refused = exc.message if source.name in exc.message else f"{source.name}: {exc.message}"
        return item
    if item.mesh.face_count > MAX_PRINT_TRIANGLES:
        item.record.refused = (f"{source.name} has {item.mesh.face_count:,} triangles; a print takes at most "
                               f"{MAX_PRINT_TRIANGLES:,}: decimate it first")
        return item
    say(f"{source.name}: repairing {item.mesh.face_count:,} triangles")
    item.repaired = repair(source.name, item.mesh.positions, item.mesh.triangles)
    item.record.repairs = list(item.repaired.repairs)
    low, high = _bounds(item)
    extents = (float(high[0] - low[0]), float(high[1] - low[1]), float(high[2] - low[2]))
    placed = Placed.standing(low, high) if source.in_place else found.placement(source, extents)
    item.matrix = world_matrix(low, high, placed)
    item.world_height = float(high[2] - low[2]) * (placed.scale if placed is not None else 1.0)
    if item.repaired.refused is not None:
        item.record.refused = item.repaired.refused
    item.colour = display_colour(item.mesh)
    if item.colour is not None:
        item.record.colour = "#{:02X}{:02X}{:02X}".format(*item.colour)
    return item


def make_ready(item: Prepared, scale: float, settings: PrintRequest, say: Say) -> None:
    """``item`` scaled by ``scale`` (millimetres per scene unit), cut flat, hollowed as asked and measured."""
    if item.repaired is None or item.repaired.solid is None or item.matrix is None or item.record.refused:
        return
    name = item.source.name
    solid = item.repaired.solid.transform(scale * item.matrix)  # type: ignore[attr-defined]
    solid = flat_base(solid, settings.base_mm)
    expected = scale * item.world_height - settings.base_mm
    if solid.is_empty() or solid.volume() <= 0 or expected <= 0:
        item.record.refused = (f"{name} is {scale * item.world_height:.2f} mm tall at this scale, no taller than the "
                               f"{settings.base_mm:g} mm cut off for a flat base: nothing of it is left to print")
        return
    item.record.asked_height_mm = round(expected, 4)
    item.record.bodies = item.repaired.bodies
    if item.repaired.bodies > 1:
        item.record.notes.append(f"{name} is {item.repaired.bodies} separate solids: the smaller ones (loose bits "
                                 "beside it, as a generator leaves them) print on their own")
    if item.repaired.rebuilt_cell is not None:
        item.record.rebuilt_cell_mm = round(item.repaired.rebuilt_cell * scale * _unit_scale(item.matrix), 3)
    if settings.hollow:
        thinnest_side = float(np.min(np.ptp(np.reshape(solid.bounding_box(), (2, 3)), axis=0)))
        if 2 * settings.wall_mm >= thinnest_side:
            made = None
            note = (f"{name} is {thinnest_side:.1f} mm across at its narrowest, too thin for a {settings.wall_mm:g} mm "
                    "wall on each side: it is printed solid")
        else:
            refused = drains_refused(name, solid, settings.wall_mm, settings.drain_holes, settings.drain_mm)
            if refused is not None:
                item.record.refused = refused
                return
            say(f"{name}: hollowing to a {settings.wall_mm:g} mm wall")
            made = hollow(name, solid, settings.wall_mm, settings.drain_holes, settings.drain_mm)
            solid, note = made.solid, made.note
        item.record.hollow = HollowRecord(settings.wall_mm, bool(made and made.hollow), bool(made and made.drained),
                                          made.holes if made else [], settings.drain_mm, note)
        if note:
            item.record.notes.append(note)
        if solid.is_empty() or solid.volume() <= 0:  # type: ignore[attr-defined]
            # The up-front check should leave nothing to catch here; a shape it misjudges is still one sentence,
            # never an empty solid measured or written.
            item.record.refused = (f"{name} has nothing left once hollowed and drilled: give narrower or fewer "
                                   "drain holes, or print it solid")
            return
    item.solid = solid
    vertices, faces = arrays_of(solid)
    say(f"{name}: measuring its walls")
    walls = thinnest_wall(vertices, faces, settings.thin_mm)
    item.record.thinnest_wall_mm, item.record.thinnest_ray_mm = walls.thinnest_mm, walls.least_mm
    item.record.thinnest_at_mm, item.record.thin_share = walls.where, walls.thin_share
    if walls.thinnest_mm is not None and walls.thinnest_mm < settings.thin_mm:
        item.record.notes.append(f"{name} has walls thinner than {settings.thin_mm:g} mm ({walls.thinnest_mm:.2f} mm "
                                 f"at its thinnest, {100 * walls.thin_share:.1f} % of its surface): they may print "
                                 "broken or not at all")
    item.record.volume_mm3 = round(float(solid.volume()), 3)  # type: ignore[attr-defined]
    box = np.reshape(solid.bounding_box(), (2, 3))  # type: ignore[attr-defined]
    item.record.size_mm = [round(float(v), 3) for v in box[1] - box[0]]
    item.record.watertight = True


def _bounds(item: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """The repaired solid's bounds, or the mesh's as read where it could not be repaired."""
    if item.repaired is not None and item.repaired.solid is not None:
        box = np.asarray(item.repaired.solid.bounding_box(), dtype=np.float64)  # type: ignore[attr-defined]
        return box[:3], box[3:]
    positions = item.mesh.positions if item.mesh is not None else np.zeros((1, 3))
    return positions.min(axis=0), positions.max(axis=0)


def _unit_scale(matrix: np.ndarray) -> float:
    """The uniform scale of a placement's matrix (its first column's length)."""
    return float(np.linalg.norm(matrix[:, 0]))

