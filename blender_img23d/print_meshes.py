"""What Print Selected prints: the objects (the selection, or every visible object of the active object's
Generate run), each written for the backend as it stands in the scene, and the print's settings.

Each object goes out as the protocol's mesh file (``img23d_protocol.mesh_file``, the one Re-texture sends) in
world space: its evaluated mesh (every modifier applied, a Solidify included), moved by its world matrix (its
parents', its own move, turn and scale), so what the artist moved or scaled prints as it stands. Why world-space
meshes and not the run plus each object's matrix: an object edited in Edit Mode, given a modifier, finished or
re-textured no longer matches its run's file, and an object of no run has no file at all; the mesh as Blender
shows it is the one truth for all of them. The numbers are Blender units whatever the scene's unit settings say
(metric, imperial, a unit scale of 0.001 change how lengths are shown, never the coordinates), and the artist's
height is a plain number of millimetres: the plate's scale is that height over the object's height in those
same units, so no unit setting reaches the print. Its image where its first material has one (UVs and the Base
Color image, for the 3MF's display colour). No job here: ``operators.print_selected`` sends them.

Everything the backend would refuse of the objects (more than a print takes, a name it cannot take, nothing with
faces) is refused here before any file is written (``printable``). The files one print writes are that print's
(``PrintFiles``): named afresh for it in the runs folder's ``_inputs``, and removed, only they, by
``PrintFiles.remove`` (the one place they go), when the print is refused or its job has ended.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
import img23d_protocol as protocol
import numpy as np

from .retexture_mesh import base_color_image, mesh_arrays

# How a refusal names each setting: as the panel labels it.
LABELS = {"height_mm": "Height (mm)", "wall_mm": "Wall (mm)", "drain_holes": "Drain holes", "drain_mm": "Drain (mm)",
          "base_mm": "Base (mm)", "thin_mm": "Thin (mm)"}


CONVERTIBLE = ("CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME")


class PrintProblem(Exception):
    """What is chosen cannot be printed; the message says why, for the artist."""


@dataclass
class PrintPick:
    objects: list[bpy.types.Object]
    run: str = ""                   # the Generate run every object came from, where they share one that is here
    skipped: list[str] = field(default_factory=list)   # one sentence each: what was chosen and is not printed


def pick(context: bpy.types.Context, whole_run: bool) -> PrintPick:
    """The mesh objects to print: the selection, or (``whole_run``) every visible mesh of the active object's
    Generate run; a ``PrintProblem`` when there are none."""
    if whole_run:
        active = context.active_object
        run = str(active.get("img23d_run", "")) if active is not None else ""
        if not run:
            raise PrintProblem("Print Run prints the Generate run of the active object: make an object of a run "
                               "active (or use Print Selected)")
        chosen = [obj for obj in context.scene.objects if obj.get("img23d_run") == run and obj.visible_get()]
    else:
        chosen = list(context.selected_objects)
        if not chosen:
            raise PrintProblem("Nothing is selected: select the mesh objects to print")
    objects = [obj for obj in chosen if obj.type == "MESH"]
    if not objects:
        raise PrintProblem("No mesh object is chosen: select mesh objects to print (curves and text: convert "
                           "them to meshes first)")
    # A run's camera is no object to print; a curve the artist selected is worth a word.
    skipped = [] if whole_run else [f"'{obj.name}' is a {obj.type.lower()}, not a mesh: it is not printed (convert "
                                    "it to a mesh first)" for obj in chosen if obj.type in CONVERTIBLE]
    runs = {str(obj.get("img23d_run", "")) for obj in objects}
    run = runs.pop() if len(runs) == 1 else ""
    return PrintPick(objects, run if run and Path(run, protocol.MANIFEST_NAME).is_file() else "", skipped)


def settings_of(settings: Any) -> dict[str, Any]:
    """The panel's print settings as the request's fields, checked in one sentence naming the panel's field."""
    values = {"height_mm": float(settings.height_mm), "hollow": bool(settings.hollow),
              "wall_mm": float(settings.wall_mm), "drain_holes": int(settings.drain_holes),
              "drain_mm": protocol.PrintRequest.drain_mm, "base_mm": float(settings.base_mm),
              "thin_mm": protocol.PrintRequest.thin_mm}
    protocol.check_print_settings(values, lambda name: LABELS[name])
    return values


def printable(context: bpy.types.Context, chosen: PrintPick) -> list[bpy.types.Object]:
    """The chosen objects with faces to print and at most ``protocol.MAX_PRINT_TRIANGLES`` triangles (each one
    left out: a sentence in ``chosen.skipped``), checked as the backend checks a print's objects
    (``protocol.check_print_request``) before any file is written: a ``PrintProblem`` when none is left, when
    there are more than one print takes, or for a name it cannot take."""
    depsgraph = context.evaluated_depsgraph_get()
    objects = []
    for obj in chosen.objects:
        # The evaluated mesh (every modifier applied) that write_world_mesh writes: its faces and triangles counted
        # without a copy (a face of n corners is n - 2 of the triangles it is written as).
        mesh = obj.evaluated_get(depsgraph).data
        triangles = len(mesh.loops) - 2 * len(mesh.polygons)
        if not len(mesh.polygons):
            chosen.skipped.append(f"'{obj.name}' has no faces to print")
        elif triangles > protocol.MAX_PRINT_TRIANGLES:  # the backend would leave it out after reading its file
            chosen.skipped.append(f"'{obj.name}' has {triangles:,} triangles, more than the "
                                  f"{protocol.MAX_PRINT_TRIANGLES:,} a print takes: it is not printed (decimate it "
                                  "first with the Decimate modifier)")
        else:
            objects.append(obj)
    if not objects:
        raise PrintProblem(" ".join(chosen.skipped) + ": nothing is left to print")
    if len(objects) > protocol.MAX_PRINT_OBJECTS:
        raise PrintProblem(f"{len(objects)} objects are chosen to print, more than the {protocol.MAX_PRINT_OBJECTS} "
                           "one print takes: select fewer and print them in turns")
    check_names(objects)
    return objects


def check_names(objects: list[bpy.types.Object]) -> None:
    """Each object's name as the backend takes it (a target's: no control or invisible characters, not empty),
    and no two the same once it has tidied them (NFC, outer spaces): its print would keep only one of them."""
    kept: dict[str, str] = {}
    for obj in objects:
        try:
            name = protocol.validate_targets([obj.name], looked_for=False)[0]
        except protocol.ProtocolError as exc:
            why = exc.message.removeprefix("name 1 ")
            raise PrintProblem(f"The name of {obj.name!r} {why}" + ("" if ":" in why else ": rename it to print it")) \
                from exc
        if name in kept:
            raise PrintProblem(f"{kept[name]!r} and {obj.name!r} would print under one name, {name!r}: rename one "
                               "of them")
        kept[name] = obj.name


@dataclass
class PrintFiles:
    """One print's mesh files: where each object's goes (``planned``, name -> path, named afresh so that nothing
    already there is written over) and those written. The backend reads them while the print's job runs; the
    operator removes them (``remove``) once it has ended, or at once when the print is refused."""

    planned: dict[str, Path]
    written: list[Path] = field(default_factory=list)

    @classmethod
    def plan(cls, objects: list[bpy.types.Object], folder: Path) -> "PrintFiles":
        """Where each object's mesh will go in ``folder``: the object's name and a tag of this print's."""
        planned: dict[str, Path] = {}
        for obj in objects:
            path = folder / f"{bpy.path.clean_name(obj.name)}-print-{uuid.uuid4().hex[:8]}.npz"
            while path.exists() or path in planned.values():  # never a file of another print's, nor the artist's
                path = folder / f"{bpy.path.clean_name(obj.name)}-print-{uuid.uuid4().hex[:8]}.npz"
            planned[obj.name] = path
        return cls(planned)

    def write(self, context: bpy.types.Context, objects: list[bpy.types.Object]) -> None:
        """Write each object's mesh where planned; when one cannot be, one sentence (``PrintProblem``) and
        what was written for this print removed."""
        for obj in objects:
            path = self.planned[obj.name]
            try:
                write_world_mesh(context, obj, path)
            except OSError as exc:
                self.remove()
                raise PrintProblem(f"Could not write '{obj.name}' for the backend to {path.parent}: "
                                   f"{exc.strerror or exc}") from exc
            except PrintProblem:
                self.remove()
                raise
            self.written.append(path)  # only once it is there: a failed write leaves no file (it is atomic)

    def remove(self) -> str:
        """Remove the files this print wrote, once, and nothing else (the folder stays: other jobs' inputs, and
        whatever the artist keeps there, live in it); one sentence when some could not be removed, else ""."""
        left = []
        for path in self.written:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                left.append(f"{path.name} ({exc.strerror or exc})")
        self.written = []
        if not left:
            return ""
        return f"The print's mesh files {', '.join(left)} could not be removed from the runs folder's _inputs"


def write_world_mesh(context: bpy.types.Context, obj: bpy.types.Object, path: Path) -> None:
    """``obj`` as it stands in the scene, as a mesh file at ``path``; a ``PrintProblem`` when it has no faces."""
    depsgraph = context.evaluated_depsgraph_get()
    source = obj.evaluated_get(depsgraph)
    mesh = source.to_mesh()
    try:
        if len(mesh.polygons) == 0:
            raise PrintProblem(f"'{obj.name}' has no faces to print")
        uv_layer = mesh.uv_layers.active
        arrays = mesh_arrays(mesh, uv_layer)
        matrix = np.array(source.matrix_world, dtype=np.float64)
        image = base_color_image(obj) if uv_layer is not None else None
    finally:
        source.to_mesh_clear()
    positions = arrays["positions"].astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    arrays["positions"] = positions.astype(np.float32)
    if np.linalg.det(matrix[:3, :3]) < 0:  # mirrored: its faces would turn inward, so each is wound back
        arrays["triangles"] = arrays["triangles"][:, ::-1].copy()
        arrays["triangle_loops"] = arrays["triangle_loops"][:, ::-1].copy()
    if image is not None:
        arrays["base_color"] = image
    else:
        arrays.pop("loop_uvs", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    protocol.write_mesh_file(path, protocol.MeshFile(**arrays))
