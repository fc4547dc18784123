"""The print's files in its folder: one 3MF of the plate, one binary STL per object, each read back and checked.

Every file is written under a temporary name and moved into place (``runs.added_folders``); then each is read
back, the 3MF by lib3mf and each STL by trimesh, and every object in them proved (``checks``): its record gets
the proofs, its STL's name, and the 3MF's unit and each object's place on the plate as read. Every check that
fails is in the record of the object it is about, as a check that did not pass: the 3MF that cannot be read back,
read in another unit, or read without the object. Each object's credits (the models its GLB names, with their
licences: ``gltf.made_by``) go into the 3MF's metadata and its record.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import ErrorCode, ProtocolError

from ..gltf.made_by import GENERATOR, MadeBy, ModelCredit, carried_from
from ..runs.added_folders import AddedFolder
from ..runs.stems import safe_stem
from .checks import TOLERANCE_MM, check_mesh
from .libraries import lib3mf
from .plate import Plate
from .prepare import Prepared
from .record import PrintRecord
from .repair import arrays_of
from .stl import read_stl, write_stl
from .threemf import MILLIMETRE, PlateCredits, PlateObject, read_3mf, write_3mf

PLATE_FILE = "plate.3mf"
STL_CREDITS = (f"{PLATE_FILE} names these models in its metadata, and so does this record; the STL carries no "
               "credits (the format has no place for them)")


def plate_objects(items: list[Prepared], plate: Plate) -> list[PlateObject]:
    """Each ready object about its footprint's centre, placed where the plate moves it, with its credits."""
    objects = []
    for item in items:
        made = carried_from(item.source.mesh) if item.source.mesh is not None else MadeBy()
        item.record.credits = [asdict(credit) for credit in made.models]
        item.record.credits_note = STL_CREDITS if made.models else None
        vertices, faces = arrays_of(item.solid)
        centre = (vertices[:, :2].min(axis=0) + vertices[:, :2].max(axis=0)) / 2
        dx, dy = plate.moves[item.source.name]
        local = vertices - np.array([centre[0], centre[1], 0.0])
        position = (float(centre[0] + dx), float(centre[1] + dy))
        item.record.position_mm = [round(position[0], 3), round(position[1], 3)]
        if item.record.thinnest_at_mm is not None:  # where it is on the plate
            x, y, z = item.record.thinnest_at_mm
            item.record.thinnest_at_mm = [round(x + dx, 2), round(y + dy, 2), z]
        if item.record.hollow is not None:  # its drain holes where they are on the plate
            item.record.hollow.holes = [[round(x + dx, 2), round(y + dy, 2)] for x, y in item.record.hollow.holes]
        objects.append(PlateObject(item.source.name, local, faces, position, item.colour,
                                   _credited(made, item.source.mesh.name if item.source.mesh else "")))
    return objects


def write_and_check(folder: AddedFolder, items: list[Prepared], objects: list[PlateObject],
                    record: PrintRecord) -> list[str]:
    """Write the 3MF and the STLs, read each back and check it; the sentences of any check that failed."""
    title = ", ".join(item.name for item in objects)
    refusal = lib3mf().ELib3MFException
    plate_credits = _plate_credits(items)
    try:
        plate_path = folder.write_bytes_with(PLATE_FILE, lambda p: write_3mf(p, objects, title, plate_credits))
    except refusal as exc:  # lib3mf refused a mesh or the file: its own words, in one sentence
        raise ProtocolError(ErrorCode.INTERNAL, f"lib3mf could not write {PLATE_FILE}: {exc}") from exc
    record.threemf = PLATE_FILE
    failed: list[str] = []
    stems: set[str] = set()
    for item, made in zip(items, objects):
        stem = _stem(item.source.stem, stems)
        on_plate = made.vertices + np.array([made.position[0], made.position[1], 0.0])
        stl = folder.write_bytes_with(f"{stem}.stl", lambda p: write_stl(p, on_plate, made.faces, made.name))
        item.record.stl = stl.name
        height = float(item.record.asked_height_mm or 0.0)
        check = check_mesh(stl.name, *read_stl(stl), height)
        item.record.checks.append(check.to_dict())
        if not check.passed:
            failed.append(f"{made.name}: {stl.name} read back failed its checks: {', '.join(check.failures())}")
    try:
        unit, read = read_3mf(plate_path)
    except refusal as exc:
        for item in items:
            item.record.checks.append(_not_made(f"{PLATE_FILE} could not be read back by lib3mf"))
        return [*failed, f"{PLATE_FILE} could not be read back by lib3mf: {exc}"]
    record.unit = unit
    if unit != MILLIMETRE:
        failed.append(f"{PLATE_FILE} reads back in {unit}, not millimetres")
    by_name = {found.name: found for found in read}
    for item, made in zip(items, objects):
        found = by_name.get(made.name)
        if found is None:
            item.record.checks.append(_not_made(f"it is missing from {PLATE_FILE} as read back"))
            failed.append(f"{made.name} is missing from {PLATE_FILE} as read back, so it is not printed")
            continue
        check = check_mesh(PLATE_FILE, found.vertices, found.faces, float(item.record.asked_height_mm or 0.0))
        entry = check.to_dict()
        centre = (found.vertices[:, :2].min(axis=0) + found.vertices[:, :2].max(axis=0)) / 2
        entry["placed_error_mm"] = round(float(np.linalg.norm(centre - np.asarray(made.position))), 4)
        entry["colour_kept"] = found.colour == made.colour
        entry["unit"] = unit
        entry["passed"] = (check.passed and entry["placed_error_mm"] <= TOLERANCE_MM and entry["colour_kept"]
                           and unit == MILLIMETRE)
        item.record.checks.append(entry)
        if not entry["passed"]:
            why = check.failures() or ["its unit, place or colour on the plate is not as written"]
            failed.append(f"{made.name}: {PLATE_FILE} read back failed its checks: {', '.join(why)}")
    return failed


def _not_made(why: str) -> dict[str, Any]:
    """A 3MF check that could not be made: one that failed, in the object's record, with why."""
    return {"file": PLATE_FILE, "passed": False, "failure": why}


def _credited(made: MadeBy, mesh: str) -> str:
    """An object's credits in words: the models its mesh names, or that it names none."""
    if made.models:
        return made.copyright()
    return f"Printed with {GENERATOR} from {mesh or 'a mesh'}, which names no model that made it."


def _plate_credits(items: list[Prepared]) -> PlateCredits:
    """What made the whole plate: img23d and every object's models, each once, with their licences."""
    every = MadeBy()
    for item in items:
        every = every.plus(MadeBy(tuple(ModelCredit(**entry) for entry in item.record.credits)))
    if not every.models:
        return PlateCredits(f"Printed with {GENERATOR}; no object's mesh names a model that made it.", "")
    terms = dict.fromkeys(f"{credit.licence_terms} ({credit.licence_url})" if credit.licence_url
                          else credit.licence_terms for credit in every.models)
    return PlateCredits(every.copyright(), "; ".join(terms))


def _stem(stem: str, taken: set[str]) -> str:
    """A file stem for the object's STL, distinct from the others' (and from the plate's)."""
    base = safe_stem(stem)
    candidate, n = base, 2
    while candidate.casefold() in taken or candidate.casefold() == Path(PLATE_FILE).stem:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate.casefold())
    return candidate
