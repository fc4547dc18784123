"""What a print prints: one mesh file, or the objects of a run with the places its layout gave them.

A run folder may come from anywhere, so nothing in it is trusted: its manifest is read through the protocol's
checked reader, a placement that is not numbers is none, and a mesh path that leads out of the run (``..``, an
absolute path, a link) is never followed: that object gets one sentence and the others are printed. Where the
artist ran ``relayout``, its ``relayout.json`` places the objects, as it is the layout they chose last; else
each record's placement, as the add-on placed them; a run from before placements were recorded is laid out again
from its boxes, in memory (the run is never rewritten). A run of more than ``MAX_PRINT_OBJECTS`` finished
objects (after ``--only``) is one sentence before any mesh is read, and its manifest and ``relayout.json`` are read
only up to ``MAX_RUN_JSON_BYTES`` (a larger one is one sentence naming it).

Every object's name is cleaned before it reaches a sentence, ``print.json`` or the 3MF (``printable_names``): a
control character or an invisible one becomes a space (lib3mf cut ``ho\u0000use`` at the NUL, and the object
was lost from the 3MF), and names that clean to one name are kept apart.

The add-on's Print Selected sends the scene's objects instead (``scene_sources``), each a mesh file in world
space: they print where they stand in Blender, as the artist moved, turned and scaled them.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import MAX_PRINT_OBJECTS, ErrorCode, ProtocolError, read_manifest
from img23d_protocol.bounded_read import FileTooLarge
from img23d_protocol.layout import LayoutSettings, Placement, SceneLayout, solve, targets_from_records
from img23d_protocol.names import hidden_character
from img23d_protocol.prints import shown_name
from img23d_protocol.run_manifest import MAX_RUN_JSON_BYTES, read_run_file

from ..layout.relayout import RELAYOUT_NAME
from ..readers.meshes import check_mesh_path
from .counts import check_triangle_count

MANIFEST = "manifest.json"
_NAMELESS = "object"   # a name of nothing but control characters


@dataclass(frozen=True)
class Placed:
    """Where the layout stands an object (``layout.Placement``): its bounds' bottom centre at ``location``
    (metres, Blender's axes), turned by ``yaw`` about Z, scaled by ``scale``."""

    location: tuple[float, float, float]
    yaw: float
    scale: float

    @classmethod
    def from_dict(cls, data: Any) -> "Placed | None":
        """A recorded placement, or None for one that is not finite numbers with a positive scale."""
        if not isinstance(data, dict):
            return None
        location, yaw, scale = data.get("location"), data.get("yaw"), data.get("scale")
        numbers = [*(location if isinstance(location, list) and len(location) == 3 else [None]), yaw, scale]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
            return None
        if not 0 < scale < 1e6:
            return None
        return cls((float(location[0]), float(location[1]), float(location[2])), float(yaw), float(scale))

    @classmethod
    def standing(cls, low: np.ndarray, high: np.ndarray) -> "Placed":
        """Where a mesh of bounds ``low``..``high`` already stands: a scene's object, sent in world space."""
        return cls((float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2, float(low[2])), 0.0, 1.0)

    @classmethod
    def of(cls, placement: Placement) -> "Placed":
        x, y, z = (float(v) for v in placement.location)
        return cls((x, y, z), float(placement.yaw), float(placement.scale))


@dataclass
class PrintSource:
    name: str                     # the object's name in the 3MF (its target's, or its stem where two share one)
    stem: str                     # its files' stem
    mesh: Path | None             # its mesh file; None when it is not printed
    placement: Placed | None = None
    refused: str | None = None    # the one sentence that says why it is not printed
    in_place: bool = False        # its mesh is where the scene has it (the add-on's, in world space): not placed


@dataclass
class PrintInput:
    run_dir: Path | None          # the run the print goes into; None: a mesh of no run (a new run is made)
    sources: list[PrintSource] = field(default_factory=list)
    layout: str = "none"          # where the placements came from: relayout.json, manifest, boxes or none
    scene: SceneLayout | None = None  # the run laid out from its boxes, for objects with no placement recorded

    def placement(self, source: PrintSource, extents: tuple[float, float, float]) -> Placed | None:
        """``source``'s place: recorded, or from the boxes for a mesh of ``extents`` (x, y, z, Blender's axes)."""
        if source.placement is not None or self.scene is None or source.stem not in self.scene.anchors:
            return source.placement
        return Placed.of(self.scene.place(source.stem, extents))


def open_sources(path: Path, only: tuple[str, ...] = ()) -> PrintInput:
    """What ``path`` (a run folder, or a mesh file) prints; ``only``: the names or stems of the run's objects to
    print. ``bad_request`` in one sentence for a path that is neither, a run with nothing finished, a name the
    run has not."""
    path = path.expanduser()
    if path.is_dir():
        return _run_sources(path.resolve(), only)
    check_mesh_path(path)
    check_triangle_count(path)
    if only:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "--only picks objects of a run folder; give the run folder, "
                                                   f"not the mesh file {path.name}")
    mesh = path.resolve()
    if (mesh.parent / MANIFEST).is_file():
        try:
            found = _run_sources(mesh.parent, ())
        except ProtocolError:
            found = None  # not a run img23d can read: the mesh alone
        if found is not None:
            mine = [source for source in found.sources if source.mesh == mesh]
            if mine:
                found.sources = mine
                return found
    name = printable_names([path.stem or "mesh"])[0]
    return PrintInput(None, [PrintSource(name, path.stem or "mesh", mesh)])


def scene_sources(meshes: dict[str, Path], run: Path | None) -> PrintInput:
    """The scene's objects as the add-on sent them (name -> a mesh file in world space, Blender's axes), each
    printed where it stands; the print goes into ``run`` (the run they came from, checked to be one) or, without
    it, a run of its own. A mesh file that cannot be read is that object's one sentence; the others print."""
    root = None
    if run is not None:
        root = run.expanduser().resolve()
        if not root.is_dir():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the run folder {run} the objects came from is not there")
        read_manifest(root)  # a folder that is no run img23d can read is refused in one sentence, not written into
    found = PrintInput(root, layout="scene")
    for name, (given, path) in zip(printable_names(list(meshes)), meshes.items()):
        source = PrintSource(name, given, path.expanduser().resolve(), in_place=True)
        try:
            check_mesh_path(source.mesh)  # type: ignore[arg-type]
            check_triangle_count(source.mesh)  # type: ignore[arg-type]
        except ProtocolError as exc:
            source.mesh, source.refused = None, f"{name}: {exc.message}"
        found.sources.append(source)
    return found


def _run_sources(root: Path, only: tuple[str, ...]) -> PrintInput:
    manifest = read_manifest(root)  # one sentence for a missing, damaged or newer manifest
    done = [record for record in manifest.done if record.variation <= 1 or _named(record, only)]
    if not done:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root} has no finished object to print")
    if only:
        missing = [name for name in only if not any(_named(record, (name,)) for record in done)]
        if missing:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root.name} has no object named {shown_name(missing[0])!r}: "
                                                       f"its objects are {', '.join(record.stem for record in done)}")
        done = [record for record in done if _named(record, only)]
    if len(done) > MAX_PRINT_OBJECTS:  # before any mesh is read: 3,000 objects were checked for minutes
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root.name} has {len(done):,} finished objects; a print takes "
                                                   f"at most {MAX_PRINT_OBJECTS} on one plate: pick some with --only")
    targets = [record.target for record in done]
    names = printable_names([record.target if targets.count(record.target) == 1 else record.stem
                             for record in done])
    relaid = _relayout_placements(root)
    scene = None
    size = manifest.original_size
    if size and any(record.placement is None for record in done):
        try:
            scene = solve(size, targets_from_records(manifest.records),
                          LayoutSettings(ground=bool(manifest.layout_used.get("ground", True)),
                                         metric=manifest.depth_metric, floor=manifest.measured_floor))
        except ValueError:
            scene = None  # boxes the layout cannot solve: those objects keep their own size
    found = PrintInput(root, layout="relayout.json" if relaid else "manifest", scene=scene)
    for record, name in zip(done, names):
        placed = relaid.get(record.stem) if relaid else Placed.from_dict(record.placement)
        if placed is None and scene is not None:
            found.layout = "boxes" if found.layout == "manifest" else found.layout
        found.sources.append(_source(root, name, record.stem, str(record.mesh), placed))
    return found


def printable_names(names: list[str]) -> list[str]:
    """``names`` as a print shows them: NFC, each control or invisible character (the protocol's rule for a name,
    ``img23d_protocol.names``) a space, spaces run together and trimmed; one that cleans to another's (ignoring
    case) gets " 2", " 3"..., so no two objects share a name in the 3MF."""
    cleaned = []
    taken: set[str] = set()
    for name in names:
        base = " ".join("".join(ch if _shown(ch) else " " for ch in unicodedata.normalize("NFC", name)).split())
        base = base or _NAMELESS
        candidate, n = base, 2
        while candidate.casefold() in taken:
            candidate, n = f"{base} {n}", n + 1
        taken.add(candidate.casefold())
        cleaned.append(candidate)
    return cleaned


def _shown(ch: str) -> bool:
    """Whether a name may keep ``ch``: not a control character, a lone surrogate, nor one a name may not hide."""
    return unicodedata.category(ch) not in ("Cc", "Cs") and not hidden_character(ch)


def _named(record: Any, names: tuple[str, ...]) -> bool:
    wanted = {name.strip().casefold() for name in names}
    return record.stem.casefold() in wanted or record.target.strip().casefold() in wanted


def _source(root: Path, name: str, stem: str, mesh: str, placed: Placed | None) -> PrintSource:
    """The record's mesh, when it is a file inside the run (its path is the manifest's: untrusted)."""
    path = (root / mesh).resolve()
    if root not in path.parents:
        return PrintSource(name, stem, None, placed, f"{name}: its mesh path {mesh!r} leads out of the run folder, "
                                                     "so it is not read")
    try:
        check_mesh_path(path)
        check_triangle_count(path)
    except ProtocolError as exc:
        return PrintSource(name, stem, None, placed, f"{name}: {exc.message}")
    return PrintSource(name, stem, path, placed)


def _relayout_placements(root: Path) -> dict[str, Placed]:
    """The placements ``relayout`` wrote (stem -> place), or {} without a readable ``relayout.json``; one
    sentence for one larger than any ``relayout`` writes (``MAX_RUN_JSON_BYTES``), which is not read."""
    try:
        data = json.loads(read_run_file(root / RELAYOUT_NAME).decode("utf-8"))
    except FileTooLarge as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root / RELAYOUT_NAME} is larger than the "
                                                   f"{MAX_RUN_JSON_BYTES // 1024 ** 2} MB any relayout writes, so it "
                                                   "is not read: move it out of the run to print the layout the "
                                                   "manifest records") from exc
    except (OSError, ValueError, RecursionError):  # none, or no file (a pipe in its place: NotAFile), or not JSON
        return {}
    placements = data.get("placements") if isinstance(data, dict) else None
    if not isinstance(placements, dict):
        return {}
    found = {stem: Placed.from_dict(value) for stem, value in placements.items() if isinstance(stem, str)}
    return {stem: placed for stem, placed in found.items() if placed is not None}
