"""The split's driver: a mesh file cut into one part per name, with the grounding and matting models img23d
ships (Qwen3-VL, BiRefNet) and its own rasterizer; no other model, and no hidden geometry invented.

The mesh arrives as the add-on's mesh file (``readers.meshes.artist_mesh_file`` turns a GLB, OBJ or PLY
into one: positions in Blender's axes). It is rendered from ``renders.DIRECTIONS``, each render asked for
every name (grounding), each box cut out (matting), the masks lifted onto the faces and every face given
one name (``lifting``, ``labelling``), and the mesh cut by name with each cut capped (``pieces``). Written,
through the run folder: ``<object>_<part>.glb`` per part and ``<object>_combined.glb`` (each part a node and
mesh named after it), in the input file's own frame and size; ``renders/`` what the models saw and
``detections.json`` what grounding answered. The job (``jobs.kinds.parts``) sees to ``parts.json`` and the result.

A name found on no render makes an empty part: said in one sentence, its record failed, the others
written. Only when no name is found anywhere does the run fail, its renders and detections kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from img23d_protocol import ESTIMATE_STAGE, Artifact, ArtifactKind, Error, ErrorCode, ProtocolError, duration
from PIL import Image

from ...models.stage_seconds import host_seconds
from ...runs.folders import TargetRecord
from ...gltf.writer import export_glb
from ...readers.artist_mesh import load_artist_mesh
from ...grounding import driver as ask
from ...matting import driver as matting
from ...stages.step_context import StepContext
from ..record import CutPart
from ..scenes import scene_of
from . import lifting, masks, renders
from .costs import check_cost, check_faces, split_cost
from .labelling import UNLABELLED, label_faces
from .pieces import Piece, cut, left_open
from .surface import surface_of

INPUT = "input_mesh.npz"
Say = Callable[[str, int, int, str], None]   # progress: stage, step, total, text
NO_HIDDEN_GEOMETRY = ("each part is the input's own faces; its cuts are closed by flat caps across their "
                      "outlines, and nothing the mesh hid is invented")


@dataclass(frozen=True)
class SplitRequest:
    """A split as the job adapts it: the artist's mesh file, the object's name (for file names), the parts'
    names (checked: ``names.part_names``) and the renders' side in pixels."""

    mesh: str
    name: str
    names: list[str]
    size: int = renders.RENDER_SIZE


@dataclass
class Split:
    """What a split made: its parts in the names' order, the combined GLB (None when every part is empty),
    the input's faces, the note the result carries, and what ``parts.json`` says of the whole."""

    parts: list[CutPart]
    combined: str | None
    faces: int
    note: str
    facts: dict[str, Any] = field(default_factory=dict)


def split(run: StepContext, request: SplitRequest) -> Split:
    """Cut ``request``'s mesh into its named parts: render, ground, matte, lift, label, cut, cap, write."""
    started = time.perf_counter()

    def say(stage: str, step: int, total: int, text: str) -> None:  # with the seconds the run has taken
        run.progress(stage, step, total, f"{text} ({time.perf_counter() - started:.1f} s so far)")

    names = list(request.names)
    with run.stage("load"):
        artist = load_artist_mesh(run.run_folder.copy_in(INPUT, request.mesh))
        check_faces(len(artist.triangles))
        surface = surface_of(artist.positions, artist.triangles)
        cost = split_cost(surface, request.size)
        check_cost(cost)   # before any render: a heap of triangles or too many faces is one sentence
        # The whole split's time, said as a line of its own (the "(0.1 s)" the run had taken was read as the
        # grounding's estimate, which was not said: it took 22 s): up to one crop a name on each render.
        grounding = host_seconds("grounding", cost.renders - 1)
        matting = host_seconds("matting", cost.renders * len(names))
        run.progress(ESTIMATE_STAGE, 0, 0, f"{duration(cost.seconds + grounding + matting)} on the CPU: the renders, "
                                           f"lifting, labelling and cut of {surface.face_count:,} faces "
                                           f"{duration(cost.seconds)}, the grounding of {cost.renders} renders "
                                           f"{duration(grounding)}, their matting {duration(matting)}")
        say("load", 1, 1, f"{surface.face_count:,} faces")
    with run.stage("render"):
        views = renders.render_views(surface, request.size, check=run.job.cancel.check)
        for index, view in enumerate(views):
            run.run_folder.write_image(f"renders/{index:02d}.png", view.picture)
        say("render", len(views), len(views), f"{len(views)} renders of {surface.face_count:,} faces")
    boxes = _ground(run, views, names, say)
    view_masks = _matte(run, views, boxes, len(names), say)
    with run.stage("labelling"):
        votes = lifting.lift(views, view_masks, surface.face_count)
        labels = label_faces(surface, votes)
        say("labelling", 1, 1, f"{int((votes.shown > 0).sum()):,} of {surface.face_count:,} faces seen")
    found_on = [sum(row[n] is not None for row in boxes) for n in range(len(names))]
    if (labels == UNLABELLED).all():
        raise ProtocolError(ErrorCode.TARGET_NOT_FOUND,
                            f"none of the names ({', '.join(names)}) was found on any of the {len(views)} "
                            "renders, so nothing was split (the renders and detections are in the run folder)")
    with run.stage("split"):
        pieces = cut(surface, labels, names)
        note, opened = NO_HIDDEN_GEOMETRY, left_open(pieces)
        if opened is not None:  # said in the run, the manifest and the result's note, never only counted
            note = f"{NO_HIDDEN_GEOMETRY}; {opened}"
            run.run_folder.manifest.warnings.append({"stage": "split", "code": "edges_open", "message": opened})
            say("split", 1, 1, opened)
    with run.stage("export"):
        parts, combined = _write(run, request.name, pieces, found_on, votes.found())
    kept = sum(len(piece.source_faces) for piece in pieces)
    return Split(parts, combined, surface.face_count, note,
                 {"note": note, "faces": surface.face_count, "faces_without_surface": surface.face_count - kept,
                  "open_edges": sum(piece.open_edges for piece in pieces),
                  "renders": [view.camera.side for view in views]})


def _ground(run: StepContext, views: list[renders.PartView], names: list[str],
            say: Say) -> list[list[masks.Box | None]]:
    """Each name's box on each render (the largest the model gave; None where it gave none)."""
    options = ask.GroundingOptions.from_spec(run.manager.spec("grounding").options)
    boxes: list[list[masks.Box | None]] = []
    answers = []
    with run.stage("grounding"), run.manager.use("grounding") as grounder:
        for index, view in enumerate(views):
            found = ask.find(grounder, view.picture, names, options=options, cancel=run.job.cancel)
            answer, matches = found.answer, found.matches
            boxes.append([match.detections[0].box if match.detections else None for match in matches])
            answers.append({"render": f"renders/{index:02d}.png", "camera": view.camera.side,
                            "raw_answer": answer.text, "stop_reason": answer.stop_reason.value,
                            "boxes": dict(zip(names, boxes[-1]))})
            say("grounding", index + 1, len(views), f"render {index + 1}/{len(views)} asked")
        run.run_folder.write_json("detections.json", {"coords": "pixels of each render", "renders": answers})
    run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.DETECTIONS,
                          path=str(run.run_folder.path("detections.json"))))
    return boxes


def _matte(run: StepContext, views: list[renders.PartView], boxes: list[list[masks.Box | None]], names: int,
           say: Say) -> list[np.ndarray]:
    crops = masks.crops_for(views, boxes)
    cutouts: list[Any] = []
    with run.stage("matting"):
        if crops:
            with run.manager.use("matting") as model:
                cutouts = matting.matte_all(run, model, [crop.picture for crop in crops])
        # A crop whose matting failed (an UnusableMatte, or an OutOfMemory) votes nothing.
        usable = [c if isinstance(c, Image.Image) else None for c in cutouts]
        say("matting", len(crops), max(len(crops), 1), f"{len(crops)} crops cut out")
        return masks.masks_from_cutouts(views, names, crops, usable)


def _write(run: StepContext, name: str, pieces: list[Piece], found_on: list[int],
           voted: np.ndarray) -> tuple[list[CutPart], str | None]:
    folder = run.run_folder
    obj = folder.unique_stem(name, 1)
    combined_stem = folder.claim_stem(f"{obj}_combined")
    records, made, parts = [], [], []
    for index, piece in enumerate(pieces):
        record = TargetRecord(target=piece.name, stem=folder.unique_stem(f"{obj}_{piece.name}", 1))
        records.append(record)
        if piece.empty:
            reason = (f"{piece.name!r} was found on no render, so its part is empty" if not voted[index] else
                      f"{piece.name!r} was found, but every face it was seen on went to another name, "
                      "so its part is empty")
            failure = ProtocolError(ErrorCode.TARGET_NOT_FOUND, reason, target=piece.name)
            record.status, record.error = "failed", {"code": failure.code.value, "message": failure.message}
            run.job.emit(Error.from_exception(run.job.id, failure))
            folder.manifest.warnings.append({"stage": "split", "code": "part_empty", "message": reason})
            parts.append(CutPart(piece.name, None, 0, 0.0, False, found_on=found_on[index], empty_reason=reason))
            continue
        scene = scene_of([(index, piece)])
        path = folder.write_bytes_with(f"{record.stem}.glb", lambda p, s=scene: export_glb(s, p, run.made_by()))
        record.mesh, record.status = folder.relative(path), "done"
        record.faces, record.vertices = int(len(piece.faces)), int(len(piece.vertices))
        made.append((index, piece))
        parts.append(CutPart(piece.name, record.mesh, int(len(piece.source_faces)), round(piece.area, 8),
                             piece.closed, cap_faces=piece.cap_faces, open_cuts=piece.open_cuts,
                             found_on=found_on[index], open_edges=piece.open_edges,
                             input_open_edges=piece.input_open_edges))
        run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.MESH, path=str(path), target=piece.name))
    manifest = folder.manifest
    manifest.targets, manifest.records = [piece.name for piece in pieces], records
    combined = None
    if made:
        scene = scene_of(made)
        path = folder.write_bytes_with(f"{combined_stem}.glb", lambda p: export_glb(scene, p, run.made_by()))
        combined = folder.relative(path)
    folder.save_manifest()
    return parts, combined


__all__ = ["INPUT", "NO_HIDDEN_GEOMETRY", "Split", "SplitRequest", "split"]
