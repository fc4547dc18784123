"""Parts drawn by a parts model: ``parts`` with mode "model", from a picture, a mesh, or both.

What decides the parts: an indexed mask the artist gives (``mask``: one part per non-zero value), the names
found on the picture (``targets``: each grounded, its box cut out by the matting model, the cut-outs made
into the mask, one value per name), or nothing (the model finds them: from a picture, or from the mesh alone).
A picture without transparency is cut out first (the matting model), since the model frames the object by it.

Frames: the mesh arrives in Blender's axes (``readers.meshes.artist_mesh_file``) and the model works in
glTF's, +Y up, as it was trained; the turn is made here both ways (``gltf.frame``), so every part
comes back in the input's own frame and size. From a picture alone the parts are in the model's [-1, 1].

Each part is simplified to the job's face budget (the release simplifies its parts too) and written as
``<object>_<part>.glb``, the whole as ``<object>_combined.glb``, each carrying the model's licence in its
``asset.extras`` (a licence may reach what its model makes); ``parts.json`` and the manifest say the same.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import ErrorCode, PartsJobResult, PartsRequest, ProtocolError

from ..catalog import PARTS_ROLE
from ..gltf.frame import to_gltf
from ..parts.split.names import part_names
from ..parts import costs, driver, memory
from ..parts.indexed_mask import check_mask, coloured, read_mask, scaled
from ..parts.part import DEFAULT_GRID, DEFAULT_STEPS, GRIDS, MAX_PARTS
from ..parts.part import PartsRequest as ModelRequest
from ..parts.table import row_of
from ..readers.images import LoadedImage
from ..runs.folders import TargetRecord
from ..stages.matting import UnusableMatte
from ..stages.paint import retexture
from .base import JobRun, OutOfMemory
from .context import EngineContext
from .loaders import ensure_parts_model
from .parts_split import PartRecord

MAX_PARTS_WHY = "the parts model makes at most that many"


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
        if not ensure_parts_model(engine.manager, engine.settings.models):  # first use registers it
            raise ProtocolError(ErrorCode.MODEL_MISSING, "this model set has no parts model: drawing parts needs one")
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
        made = driver.draw(self, request)
        with self.stage("export"):
            obj = self.run_folder.unique_stem(self.request.name, 1)
            written = driver.write_parts(self, made, obj)
            manifest = self.run_folder.manifest
            manifest.targets = [part.name for part in written.parts]
            manifest.records = [TargetRecord(target=part.name, stem=Path(part.mesh).stem, status="done",
                                             mesh=part.mesh, faces=part.faces) for part in written.parts]
            self.run_folder.save_manifest()
        records = [PartRecord(part.name, part.mesh, part.faces, 0, part.area, part.closed, 0, 0)
                   for part in written.parts]
        combined = written.combined
        licence = spec.licence.licence
        note = "; ".join(text for text in (f"drawn by {row_of(spec).name}", licence.summary(),
                                           driver.decoding_note(made)) if text)
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
        mask = driver.names_mask(self, image, names, "detections.json")
        if mask is None:
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, f"none of the names ({', '.join(names)}) was found on "
                                                            "the object in the picture, so no part mask could be made")
        return mask

    def _names(self, mask: np.ndarray | None) -> list[str]:
        """The parts' names as the part loop takes them (one per mask value, in increasing order): the
        artist's names for the artist's mask; for a mask made from the names, value i + 1 is name i, so the
        names found, in order."""
        if mask is None or not self.request.targets:
            return []
        if self.request.mask:
            return list(self.request.targets)
        return driver.found_names(list(self.request.targets), mask)

__all__ = ["PartsModelRun"]
