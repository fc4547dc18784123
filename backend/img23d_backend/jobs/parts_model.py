"""Parts drawn by a parts model: ``parts`` with mode "model", from a picture, a mesh, or both.

What decides the parts: an indexed mask the artist gives (``mask``: one part per non-zero value), the names
found on the picture (``targets``: each grounded, its box cut out by the matting model, the cut-outs made
into the mask, one value per name), or nothing (the model finds them: from a picture, or from the mesh alone).
A picture without transparency is cut out first (the matting model), since the model frames the object by it.

Frames: the mesh arrives in Blender's axes (``readers.meshes.artist_mesh_file``) and the model works in
glTF's, +Y up, as it was trained; the turn is made here both ways (``part_split.scenes``), so every part
comes back in the input's own frame and size. From a picture alone the parts are in the model's [-1, 1].

Each part is simplified to the job's face budget (the release simplifies its parts too) and written as
``<object>_<part>.glb``, the whole as ``<object>_combined.glb``, each carrying the model's licence in its
``asset.extras`` (a licence may reach what its model makes); ``parts.json`` and the manifest say the same.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import (Artifact, ArtifactKind, ErrorCode, PartsJobResult, PartsRequest, ProtocolError)

from ..catalog import PARTS_ROLE, parts_spec_for
from ..part_split.names import part_names
from ..part_split.pieces import Piece
from ..part_split.scenes import export_glb, from_gltf, scene_of, to_gltf
from ..parts import costs, memory
from ..parts.indexed_mask import check_mask, coloured, from_alphas, read_mask, scaled
from ..parts.part import DEFAULT_GRID, DEFAULT_STEPS, GRIDS, MAX_PARTS, PartMesh, PartProgress
from ..parts.part import PartsRequest as ModelRequest
from ..parts.table import generator_of, row_of
from ..readers.images import LoadedImage
from ..runs.folders import TargetRecord
from ..stages.crop import crop_box
from ..stages.matting import UnusableMatte
from ..stages.mesh.cleanup import decimate
from ..stages.paint import retexture
from .base import JobRun, OutOfMemory
from .context import EngineContext
from .loaders import LOADERS
from .parts_split import PartRecord

MAX_PARTS_WHY = "the parts model makes at most that many"
CROP_MARGIN = 0.1                # as Generate's crops: the matting model needs some background round a part


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


class PartsModelRun(JobRun):
    """Draw an object's parts with the parts model: inputs read, the mask made or read, the parts drawn one
    after another (each conditioned on those so far), each simplified and written with its licence."""

    kind = "parts"
    request: PartsRequest

    @classmethod
    def check_request(cls, request: PartsRequest) -> None:  # type: ignore[override]
        limit = request.max_parts or MAX_PARTS
        if not 1 <= limit <= MAX_PARTS:
            raise _bad(f"at most {MAX_PARTS} parts can be made: ask for 1 to {MAX_PARTS}")
        request.targets = part_names(", ".join(request.targets), limit, MAX_PARTS_WHY) if request.targets else []
        if not request.image and not request.mesh:
            raise _bad("give a picture of the object, a mesh of it, or both")
        for what, path in (("picture", request.image), ("mesh", request.mesh), ("mask", request.mask)):
            if path and not Path(path).is_file():
                raise _bad(f"no {what} file at {path}")
        if request.mask and not request.image:
            raise _bad("a mask needs the picture it was drawn on: give the picture too")
        if request.targets and not request.image:
            raise _bad("names are found on a picture of the object: give one, or split the mesh by names (--split)")
        if request.grid and request.grid not in GRIDS:
            raise _bad(f"the decoding grid must be one of {', '.join(map(str, GRIDS))} cells a side")
        if request.steps and not 1 <= request.steps <= 200:
            raise _bad("the denoising steps must be 1 to 200 a part")

    @classmethod
    def check_models(cls, request: PartsRequest, engine: EngineContext) -> None:  # type: ignore[override]
        if PARTS_ROLE not in engine.manager.roles:  # a backend started without one registers it on first use
            spec = parts_spec_for(engine.settings.models)
            if spec is None:
                raise ProtocolError(ErrorCode.MODEL_MISSING, "this model set has no parts model: drawing parts "
                                                             "needs one")
            engine.manager.register(spec, LOADERS[PARTS_ROLE](spec))
        missing = [role for role in cls.roles_used(request) if role not in engine.manager.roles]
        if missing:
            raise ProtocolError(ErrorCode.MODEL_MISSING, f"drawing parts this way needs the {' and '.join(missing)} "
                                                         "model, which this model set does not have")

    @classmethod
    def check_memory(cls, request: PartsRequest, engine: EngineContext) -> None:  # type: ignore[override]
        spec = engine.manager.spec(PARTS_ROLE)
        device = engine.manager.device_of(PARTS_ROLE)
        memory.check_parts(row_of(spec), request.grid or DEFAULT_GRID, device)
        costs.refuse_long_parts(spec, device, cls._estimate_request(request), request.options.accept_long)

    @classmethod
    def _estimate_request(cls, request: PartsRequest) -> ModelRequest:
        """What the estimate counts: the parts asked for (a mask's values are counted when it is read)."""
        parts = len(request.targets) or request.max_parts or MAX_PARTS
        return ModelRequest(image=None, vertices=np.zeros((1, 3)) if request.mesh else None, max_parts=parts,
                            grid=request.grid or DEFAULT_GRID, steps=request.steps or DEFAULT_STEPS)

    @classmethod
    def roles_used(cls, request: PartsRequest) -> tuple[str, ...]:  # type: ignore[override]
        found = ("grounding",) if request.targets else ()
        return (PARTS_ROLE, *found, *(("matting",) if request.image else ()))

    @classmethod
    def folder_label(cls, request: PartsRequest) -> str:  # type: ignore[override]
        return f"{request.name}-parts"

    # -- the job --------------------------------------------------------------------------------

    def body(self) -> PartsJobResult:  # type: ignore[override]
        self._started = time.perf_counter()
        picture = self.load_input() if self.request.image else None
        vertices = faces = None
        if self.request.mesh:
            with self.stage("load"):
                artist = retexture.load_artist_mesh(self.run_folder.copy_in("input_mesh.npz", self.request.mesh))
                vertices, faces = to_gltf(artist.positions).astype(np.float32), np.asarray(artist.triangles)
        image = self._object_picture(picture) if picture is not None else None
        mask = self._mask(picture, image) if picture is not None else None
        mask_file = None
        if mask is not None:
            mask_file = self.run_folder.relative(self.run_folder.write_image("part_mask.png", coloured(mask)))
        spec = self.manager.spec(PARTS_ROLE)
        request = ModelRequest(image=image, vertices=vertices, faces=faces, mask=mask,
                               names=tuple(self._names(mask)), max_parts=self.request.max_parts or MAX_PARTS,
                               seed=self.options.seed, grid=self.request.grid or DEFAULT_GRID,
                               steps=self.request.steps or DEFAULT_STEPS)
        estimate = costs.request_estimate(spec, self.manager.device_of(PARTS_ROLE), request)
        with self.stage("parts"):
            self._say("parts", 0, estimate.parts, f"drawing up to {estimate.parts} parts, about "
                                                   f"{estimate.total_s:.0f} s")
            made = generator_of(spec).generate(self.manager, request, lambda report: self._part_made(report, estimate),
                                               self.job.cancel)
        if not made:
            raise ProtocolError(ErrorCode.SHAPE_FAILED, "the parts model made no part: every one it drew decoded to "
                                                      "nothing (try another seed)")
        with self.stage("export"):
            records, combined = self._write(made)
        licence = spec.licence.licence
        note = f"drawn by {row_of(spec).name}; {licence.summary()}"
        self.run_folder.write_json("parts.json", {"object": self.request.name, "model": row_of(spec).name,
                                                  "licence": licence.summary(), "mask": mask_file,
                                                  "frame": "the input mesh's" if vertices is not None else
                                                           "the model's [-1, 1], +Y up",
                                                  "parts": [asdict(record) for record in records]})
        manifest = self.run_folder.manifest
        return PartsJobResult(run_dir=str(self.run_folder.root), manifest=str(self.run_folder.path("manifest.json")),
                              combined=combined, parts=tuple(record.result() for record in records),
                              faces=int(len(faces)) if faces is not None else 0, note=note,
                              timings=dict(manifest.timings), seed=self.options.seed, model=row_of(spec).name,
                              licence=licence.name, mask=mask_file)

    # -- the picture and its mask ----------------------------------------------------------------

    def _object_picture(self, picture: LoadedImage) -> Any:
        """The picture with the object's alpha: its own, or the matting model's cut-out of it."""
        if picture.has_alpha:
            return picture.image
        with self.stage("matting"), self.manager.use("matting") as model:
            [cutout] = self.matte_all(model, [picture.image])
        if isinstance(cutout, (OutOfMemory, UnusableMatte)):
            raise ProtocolError(ErrorCode.SHAPE_FAILED, "the object could not be cut out of the picture "
                                                      "(give it with a transparent background)")
        self.run_folder.write_image("cutout.png", cutout, picture.permissions)
        return cutout

    def _mask(self, picture: LoadedImage, image: Any) -> np.ndarray | None:
        """The artist's mask at the picture's size as the model reads it, or one made from the names."""
        if self.request.mask:
            with self.stage("mask"):
                mask = check_mask(read_mask(self.run_folder.copy_in(f"input_mask{Path(self.request.mask).suffix}",
                                                                    self.request.mask)), picture.original_size)
                values = int((np.unique(mask) != 0).sum())
                if len(self.request.targets) > values:
                    raise _bad(f"{len(self.request.targets)} names were given for the mask's {values} values: "
                               "give one name per value at most (in increasing order of value)")
                return scaled(mask, picture.size)
        if not self.request.targets:
            return None
        names = list(self.request.targets)
        matches = self.ground(picture, names)
        crops = []
        for index, match in enumerate(matches):
            if match.detections:
                rect = crop_box(match.detections[0].box, picture.size, margin=CROP_MARGIN, min_size=32)
                crops.append((index, rect, picture.image.crop(rect)))
        if not crops:
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, f"none of the names ({', '.join(names)}) was found on "
                                                            "the picture, so no part mask could be made")
        with self.stage("matting"), self.manager.use("matting") as model:
            cutouts = self.matte_all(model, [crop for _, _, crop in crops])
        alphas: list[np.ndarray | None] = [None] * len(names)
        for (index, (x0, y0, x1, y1), _), cutout in zip(crops, cutouts):
            if isinstance(cutout, (OutOfMemory, UnusableMatte)):
                continue
            alpha = np.zeros((picture.size[1], picture.size[0]))
            alpha[y0:y1, x0:x1] = np.asarray(cutout.getchannel("A"), dtype=np.float64) / 255.0
            alphas[index] = alpha
        for name, alpha in zip(names, alphas):
            if alpha is None:
                self._warn("mask", "part_not_found", f"{name!r} was not found on the picture: no part is drawn for it")
        inside = np.asarray(image.getchannel("A")) >= 128 if image.mode == "RGBA" else None
        mask = from_alphas(alphas, inside)
        if not mask.any():
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, "the names were found, but none of their cut-outs lies "
                                                            "on the object, so no part mask could be made")
        return mask

    def _names(self, mask: np.ndarray | None) -> list[str]:
        """The parts' names as the part loop takes them (one per mask value, in increasing order): the
        artist's names for the artist's mask; for a mask made from the names, value i + 1 is name i, so the
        names found, in order."""
        if mask is None or not self.request.targets:
            return []
        if self.request.mask:
            return list(self.request.targets)
        present = {int(v) for v in np.unique(mask) if v != 0}
        return [name for index, name in enumerate(self.request.targets) if index + 1 in present]

    # -- progress and writing --------------------------------------------------------------------

    def _part_made(self, report: PartProgress, estimate: costs.PartsEstimate) -> None:
        if report.part == 0:
            self._say("parts", 0, estimate.parts, "drawing the whole object from the picture first")
            return
        self._say("parts", report.part, estimate.parts, f"part {report.part} of up to {estimate.parts} made: "
                                                        f"{report.seconds:.0f} s so far, about "
                                                        f"{max(report.estimate, report.seconds):.0f} s in all")

    def _write(self, made: list[PartMesh]) -> tuple[list[PartRecord], str]:
        licence = self.manager.spec(PARTS_ROLE).licence.licence
        extras = {"generator": "img23d", "parts_model": row_of(self.manager.spec(PARTS_ROLE)).name,
                  "licence": licence.name, "licence_terms": licence.summary(), "licence_url": licence.text_url}
        obj = self.run_folder.unique_stem(self.request.name, 1)
        combined_stem = self.run_folder.claim_stem(f"{obj}_combined")
        budget = self.options.face_budget
        records, pieces, manifest_records = [], [], []
        for part in made:
            vertices, faces = part.vertices, part.faces
            if budget and len(faces) > budget:
                vertices, faces = decimate(vertices, faces, budget)
            piece = Piece(name=part.name, vertices=from_gltf(vertices), faces=np.asarray(faces, np.int64),
                          source_faces=np.arange(len(faces)), cap_faces=0, area=_area(vertices, faces), open_cuts=0,
                          closed=_closed(faces))
            record = TargetRecord(target=part.name, stem=self.run_folder.unique_stem(f"{obj}_{part.name}", 1),
                                  status="done", faces=int(len(faces)), vertices=int(len(vertices)))
            path = self.run_folder.write_bytes_with(f"{record.stem}.glb",
                                                    lambda p, s=scene_of([(part.index, piece)]): export_glb(s, p, extras))
            record.mesh = self.run_folder.relative(path)
            manifest_records.append(record)
            pieces.append((part.index, piece))
            records.append(PartRecord(part.name, record.mesh, int(len(faces)), 0, round(piece.area, 8), piece.closed,
                                      0, 0))
            self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.MESH, path=str(path), target=part.name))
        manifest = self.run_folder.manifest
        manifest.targets, manifest.records = [part.name for part in made], manifest_records
        path = self.run_folder.write_bytes_with(f"{combined_stem}.glb",
                                                lambda p: export_glb(scene_of(pieces), p, extras))
        self.run_folder.save_manifest()
        return records, self.run_folder.relative(path)

    def _warn(self, stage: str, code: str, message: str) -> None:
        self.run_folder.manifest.warnings.append({"stage": stage, "code": code, "message": message})
        self.progress(stage, 1, 1, message)

    def _say(self, stage: str, step: int, total: int, text: str) -> None:
        self.progress(stage, step, total, f"{text} ({time.perf_counter() - self._started:.1f} s)")


def _area(vertices: np.ndarray, faces: np.ndarray) -> float:
    corners = np.asarray(vertices, np.float64)[np.asarray(faces)]
    return float(np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum()
                 / 2.0)


def _closed(faces: np.ndarray) -> bool:
    """Whether every edge is shared by exactly two faces."""
    if not len(faces):
        return False
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool((counts == 2).all())


__all__ = ["PartsModelRun"]
