"""Parts split: a mesh file cut into one part per name, with the grounding and matting models img23d
ships (Qwen3-VL, BiRefNet) and its own rasterizer; no other model, and no hidden geometry invented.

The mesh arrives as the add-on's mesh file (``readers.meshes.artist_mesh_file`` turns a GLB, OBJ or PLY
into one: positions in Blender's axes). It is rendered from ``parts.split.renders.DIRECTIONS``, each
render asked for every name (grounding), each box cut out (matting), the masks lifted onto the faces
and every face given one name (``parts.split``), and the mesh cut by name with each cut capped. Written,
through the run folder: ``<object>_<part>.glb`` per part and ``<object>_combined.glb`` (each part a
node and mesh named after it), in the input file's own frame and size; ``parts.json`` says what each
part holds, ``renders/`` what the models saw and ``detections.json`` what grounding answered.

A name found on no render makes an empty part: said in one sentence, its record failed, the others
written. Only when no name is found anywhere does the job fail, its renders and detections kept.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import (Artifact, ArtifactKind, ErrorCode, PartResult, PartsJobResult, PartsRequest,
                             ProtocolError, duration)

from ..parts.split import lifting, masks, renders
from ..parts.split.costs import check_cost, check_faces, split_cost
from ..parts.split.labelling import UNLABELLED, label_faces
from ..parts.split.names import part_names
from ..parts.split.pieces import Piece, cut, left_open
from ..parts.scenes import scene_of
from ..parts.split.surface import surface_of
from ..runs.folders import TargetRecord
from ..stages.grounding import ask
from ..stages.matting import UnusableMatte
from ..stages.paint import retexture
from .base import JobRun, OutOfMemory
from .context import EngineContext

INPUT = "input_mesh.npz"
NO_HIDDEN_GEOMETRY = ("each part is the input's own faces; its cuts are closed by flat caps across their "
                      "outlines, and nothing the mesh hid is invented")


@dataclass
class PartRecord:
    """One part as ``parts.json`` tells it (the result's ``PartResult`` and what only the run keeps)."""

    name: str
    mesh: str | None            # its GLB, relative to the run folder; None for an empty part
    faces: int                  # the input's faces it holds
    cap_faces: int              # triangles added to close its cuts
    area: float                 # its faces' area, before the caps (the input's units squared)
    closed: bool
    open_cuts: int              # runs of its cuts' outlines left open (0 for a part no cut made)
    found_on: int               # renders on which grounding found the name
    empty_reason: str | None = None
    open_edges: int | None = None        # edges its cuts left open (None: not counted, a drawn part's)
    input_open_edges: int | None = None  # edges of the input's own holes it holds, left as they were

    def result(self) -> PartResult:
        return PartResult(name=self.name, mesh=self.mesh, faces=self.faces, cap_faces=self.cap_faces,
                          closed=self.closed, empty_reason=self.empty_reason)


class PartsSplitRun(JobRun):
    """Cut a mesh into named parts: render, ground, matte, lift, label, cut, cap, write."""

    kind = "parts"
    request: PartsRequest

    @classmethod
    def check_request(cls, request: PartsRequest) -> None:  # type: ignore[override]
        request.targets = part_names(", ".join(request.targets))
        if not Path(request.mesh).is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no mesh file at {request.mesh}")
        if request.render_size != 0 and not 64 <= request.render_size <= 2048:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "the renders' size must be 64 to 2048 pixels")

    @classmethod
    def check_models(cls, request: PartsRequest, engine: EngineContext) -> None:  # type: ignore[override]
        missing = [role for role in cls.roles_used(request) if role not in engine.manager.roles]
        if missing:
            raise ProtocolError(ErrorCode.MODEL_MISSING, f"splitting by names needs the {' and '.join(missing)} "
                                                         "model, which this model set does not have")

    @classmethod
    def roles_used(cls, request: PartsRequest) -> tuple[str, ...]:  # type: ignore[override]
        return ("grounding", "matting")

    @classmethod
    def folder_label(cls, request: PartsRequest) -> str:  # type: ignore[override]
        return f"{request.name}-parts"

    def body(self) -> PartsJobResult:  # type: ignore[override]
        self._started = time.perf_counter()
        names = list(self.request.targets)
        with self.stage("load"):
            copy = self.run_folder.copy_in(INPUT, self.request.mesh)
            artist = retexture.load_artist_mesh(copy)
            check_faces(len(artist.triangles))
            surface = surface_of(artist.positions, artist.triangles)
            size = self.request.render_size or renders.RENDER_SIZE
            cost = split_cost(surface, size)
            check_cost(cost)   # before any render: a heap of triangles or too many faces is one sentence
            self._say("load", 1, 1, f"{surface.face_count:,} faces: {duration(cost.seconds)} on the CPU for the "
                                    f"renders, lifting, labelling and cut, the grounding and matting of "
                                    f"{cost.renders} renders on top")
        with self.stage("render"):
            views = renders.render_views(surface, size, check=self.job.cancel.check)
            for index, view in enumerate(views):
                self.run_folder.write_image(f"renders/{index:02d}.png", view.picture)
            self._say("render", len(views), len(views), f"{len(views)} renders of {surface.face_count:,} faces")
        boxes = self._ground(views, names)
        view_masks = self._matte(views, boxes, len(names))
        with self.stage("labelling"):
            votes = lifting.lift(views, view_masks, surface.face_count)
            labels = label_faces(surface, votes)
            self._say("labelling", 1, 1, f"{int((votes.shown > 0).sum()):,} of {surface.face_count:,} faces seen")
        found_on = [sum(row[n] is not None for row in boxes) for n in range(len(names))]
        if (labels == UNLABELLED).all():
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND,
                                f"none of the names ({', '.join(names)}) was found on any of the {len(views)} "
                                "renders, so nothing was split (the renders and detections are in the run folder)")
        with self.stage("split"):
            pieces = cut(surface, labels, names)
            note, opened = NO_HIDDEN_GEOMETRY, left_open(pieces)
            if opened is not None:  # said in the run, the manifest and the result's note, never only counted
                note = f"{NO_HIDDEN_GEOMETRY}; {opened}"
                self.run_folder.manifest.warnings.append({"stage": "split", "code": "edges_open", "message": opened})
                self._say("split", 1, 1, opened)
        with self.stage("export"):
            parts, combined = self._write(pieces, found_on, votes.found())
        manifest = self.run_folder.manifest
        kept = sum(len(piece.source_faces) for piece in pieces)
        self.run_folder.write_json("parts.json", {"object": self.request.name, "note": note,
                                                  "faces": surface.face_count,
                                                  "faces_without_surface": surface.face_count - kept,
                                                  "open_edges": sum(piece.open_edges for piece in pieces),
                                                  "renders": [view.camera.side for view in views],
                                                  "parts": [asdict(part) for part in parts]})
        return PartsJobResult(run_dir=str(self.run_folder.root), manifest=str(self.run_folder.path("manifest.json")),
                              combined=combined, parts=tuple(part.result() for part in parts),
                              faces=surface.face_count, note=note, timings=dict(manifest.timings),
                              seed=self.options.seed)

    # -- the models ------------------------------------------------------------------------------

    def _ground(self, views: list[renders.PartView], names: list[str]) -> list[list[masks.Box | None]]:
        """Each name's box on each render (the largest the model gave; None where it gave none)."""
        options = ask.GroundingOptions.from_spec(self.manager.spec("grounding").options)
        boxes: list[list[masks.Box | None]] = []
        answers = []
        with self.stage("grounding"), self.manager.use("grounding") as grounder:
            for index, view in enumerate(views):
                answer = ask.ground(grounder, view.picture, names, options=options, cancel=self.job.cancel)
                width, height = view.picture.size
                matches = ask.match_targets(ask.parse_answer(answer.text, width, height).detections, names)
                boxes.append([match.detections[0].box if match.detections else None for match in matches])
                answers.append({"render": f"renders/{index:02d}.png", "camera": view.camera.side,
                                "raw_answer": answer.text, "stop_reason": answer.stop_reason.value,
                                "boxes": dict(zip(names, boxes[-1]))})
                self._say("grounding", index + 1, len(views), f"render {index + 1}/{len(views)} asked")
            self.run_folder.write_json("detections.json", {"coords": "pixels of each render", "renders": answers})
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.DETECTIONS,
                               path=str(self.run_folder.path("detections.json"))))
        return boxes

    def _matte(self, views: list[renders.PartView], boxes: list[list[masks.Box | None]],
               names: int) -> list[np.ndarray]:
        crops = masks.crops_for(views, boxes)
        cutouts: list[Any] = []
        with self.stage("matting"):
            if crops:
                with self.manager.use("matting") as model:
                    cutouts = self.matte_all(model, [crop.picture for crop in crops])
            usable = [None if isinstance(c, (OutOfMemory, UnusableMatte)) else c for c in cutouts]
            self._say("matting", len(crops), max(len(crops), 1), f"{len(crops)} crops cut out")
            return masks.masks_from_cutouts(views, names, crops, usable)

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, pieces: list[Piece], found_on: list[int],
               voted: np.ndarray) -> tuple[list[PartRecord], str | None]:
        obj = self.run_folder.unique_stem(self.request.name, 1)
        combined_stem = self.run_folder.claim_stem(f"{obj}_combined")
        records, made, parts = [], [], []
        for index, piece in enumerate(pieces):
            record = TargetRecord(target=piece.name, stem=self.run_folder.unique_stem(f"{obj}_{piece.name}", 1))
            records.append(record)
            if piece.empty:
                reason = (f"{piece.name!r} was found on no render, so its part is empty" if not voted[index] else
                          f"{piece.name!r} was found, but every face it was seen on went to another name, "
                          "so its part is empty")
                self.fail_target(record, ProtocolError(ErrorCode.TARGET_NOT_FOUND, reason, target=piece.name))
                self.run_folder.manifest.warnings.append({"stage": "split", "code": "part_empty", "message": reason})
                parts.append(PartRecord(piece.name, None, 0, 0, 0.0, False, 0, found_on[index], reason, 0, 0))
                continue
            scene = scene_of([(index, piece)])
            path = self.run_folder.write_bytes_with(f"{record.stem}.glb", lambda p, s=scene: s.export(p, file_type="glb"))
            record.mesh, record.status = self.run_folder.relative(path), "done"
            record.faces, record.vertices = int(len(piece.faces)), int(len(piece.vertices))
            made.append((index, piece))
            parts.append(PartRecord(piece.name, record.mesh, int(len(piece.source_faces)), piece.cap_faces,
                                    round(piece.area, 8), piece.closed, piece.open_cuts, found_on[index],
                                    open_edges=piece.open_edges, input_open_edges=piece.input_open_edges))
            self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.MESH, path=str(path), target=piece.name))
        manifest = self.run_folder.manifest
        manifest.targets, manifest.records = [piece.name for piece in pieces], records
        combined = None
        if made:
            scene = scene_of(made)
            path = self.run_folder.write_bytes_with(f"{combined_stem}.glb", lambda p: scene.export(p, file_type="glb"))
            combined = self.run_folder.relative(path)
        self.run_folder.save_manifest()
        return parts, combined

    def _say(self, stage: str, step: int, total: int, text: str) -> None:
        """Progress with the seconds the job has run so far."""
        self.progress(stage, step, total, f"{text} ({time.perf_counter() - self._started:.1f} s)")


__all__ = ["NO_HIDDEN_GEOMETRY", "PartRecord", "PartsSplitRun"]
